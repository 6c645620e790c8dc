from __future__ import annotations

import json

import numpy as np
import pytest

from wnae.data.samples import SampleRole, Split, load_manifest, split_mask
from wnae.errors import DataError


def test_manifest_round_trip(toy_data_dir):
    samples = load_manifest(toy_data_dir)
    assert [s.name for s in samples][:5] == ["dy", "qcd", "ttbar", "wjets", "zero_bias"]
    assert samples[4].role is SampleRole.ZERO_BIAS
    assert samples[-1].n_generated == 2 * samples[-1].n_events


def test_split_is_a_partition():
    masks = [split_mask(1003, s) for s in Split]
    total = np.sum(masks, axis=0)
    np.testing.assert_array_equal(total, 1)
    assert masks[0].sum() == 603  # 60 % train (+ the 3 left over)
    assert masks[2].sum() == 200  # 20 % test


def test_manifest_errors(tmp_path, toy_data_dir):
    with pytest.raises(DataError, match="generate the data first"):
        load_manifest(tmp_path / "nowhere")
    (toy_data_dir / "qcd.h5").unlink()
    with pytest.raises(DataError, match="sample 'qcd' is listed but its file is missing"):
        load_manifest(toy_data_dir)
    (toy_data_dir / "manifest.json").write_text(json.dumps({"format": 1, "samples": [{"name": "x"}]}))
    with pytest.raises(DataError, match="malformed manifest"):
        load_manifest(toy_data_dir)

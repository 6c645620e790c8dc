from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import random_particles
from wnae.data.preprocess import DEFAULT_LSB, FixedPointNormaliser, fit_normaliser, load_normaliser
from wnae.errors import DataError


@pytest.mark.parametrize("kind", ["standard", "fixed_point"])
def test_saved_and_reloaded_gives_identical_features(tmp_path, kind):
    p = random_particles(2000, 3)
    norm = fit_normaliser([p], kind)
    norm.save(tmp_path / "norm.json")
    back = load_normaliser(tmp_path / "norm.json")
    assert type(back) is type(norm)
    np.testing.assert_array_equal(back.transform(p), norm.transform(p))


@pytest.mark.parametrize("kind", ["standard", "fixed_point"])
def test_chunked_fit_equals_whole_fit(kind):
    p = random_particles(3000, 4)
    whole = fit_normaliser([p], kind)
    chunked = fit_normaliser([p[i : i + 333] for i in range(0, 3000, 333)], kind)
    for name, value in whole.to_dict().items():
        if name == "features":
            continue
        np.testing.assert_allclose(chunked.to_dict()[name], value, rtol=1e-12, atol=1e-12)


def test_standard_normaliser_standardises():
    p = random_particles(5000, 5)
    y = fit_normaliser([p], "standard").transform(p)
    assert y.shape == (5000, 57)
    varying = p[..., :3].reshape(5000, 57).std(axis=0) > 0
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=0)[varying], 1, rtol=1e-4)


def test_fixed_point_output_is_exact_fixed_point():
    p = random_particles(5000, 6)
    norm = fit_normaliser([p], "fixed_point")
    assert isinstance(norm, FixedPointNormaliser)
    y = norm.transform(p).astype(np.float64)
    scaled = y * 2.0**norm.fractional_bits
    np.testing.assert_array_equal(scaled, np.round(scaled))  # on the grid 2^-frac
    # the offset is an integer in hardware units and the shift a power of two
    hw = np.rint(p[..., :3].reshape(5000, 57) / norm.lsb)
    np.testing.assert_array_equal(y, (hw - norm.offset) / 2.0**norm.shift)
    # each feature's spread is unit order after the shift
    spread = y.std(axis=0)
    varying = hw.std(axis=0) > 1
    assert np.all((spread[varying] > 0.25) & (spread[varying] <= 1.0 + 1e-9))
    assert norm.lsb[0] == DEFAULT_LSB["pt"]


def test_fixed_point_rounds_half_to_even():
    norm = FixedPointNormaliser(np.full(57, 0.5), np.zeros(57, np.int64), np.zeros(57, np.int64))
    x = np.zeros((1, 57))
    x[0, :4] = [0.25, 0.75, 1.25, -0.25]  # 0.5, 1.5, 2.5, -0.5 hardware units
    np.testing.assert_array_equal(norm.to_hardware(x)[0, :4], [0, 2, 2, 0])


def test_bad_inputs():
    with pytest.raises(DataError, match="zero events"):
        fit_normaliser([], "standard")
    with pytest.raises(DataError, match="unknown normaliser 'minmax'"):
        fit_normaliser([random_particles(5)], "minmax")
    x = np.zeros((4, 57))
    x[2, 5] = np.nan
    with pytest.raises(DataError, match="event 2: non-finite"):
        fit_normaliser([x], "standard")
    with pytest.raises(DataError, match=r"got \(4, 56\)"):
        fit_normaliser([np.zeros((4, 56))], "standard")


def test_load_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_normaliser(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="not a valid normalisation file"):
        load_normaliser(tmp_path / "bad.json")
    (tmp_path / "short.json").write_text('{"kind": "standard", "mean": [0, 1], "std": [1, 1]}')
    with pytest.raises(DataError, match="'mean' has 2 values, expected 57"):
        load_normaliser(tmp_path / "short.json")

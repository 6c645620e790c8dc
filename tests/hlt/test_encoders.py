"""Encoder shapes, and padding: a padded candidate changes nothing, whatever its slot holds."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import random_pf_candidates
from wnae.errors import DataError
from wnae.hlt.config import EncoderConfig
from wnae.hlt.inputs import N_INPUTS, candidate_inputs, candidate_mask
from wnae.models.augment import augment_candidates

SMALL = {"max_candidates": 32, "embed_dim": 32, "n_layers": 2, "n_heads": 4, "linformer_k": 8, "ffn_dim": 64}


def _build(kind: str, **kw):
    from wnae.hlt.encoders import build_encoder

    return build_encoder(EncoderConfig(kind=kind, **{**SMALL, **kw}))


def test_candidate_inputs_pad_and_one_hot() -> None:
    pf = random_pf_candidates(50, seed=1, n_max=24)
    x = candidate_inputs(pf, 32)
    assert x.shape == (50, 32, N_INPUTS)
    mask = candidate_mask(x)
    np.testing.assert_array_equal(mask[:, :24], pf[..., 5] > 0)
    assert not mask[:, 24:].any()
    assert np.all(x[~mask] == 0)
    np.testing.assert_array_equal(x[mask][:, 6:].sum(axis=1), 1.0)
    bad = pf.astype(np.float32)
    bad[3, 0, 0] = np.nan
    with pytest.raises(DataError, match="1 events have NaN"):
        candidate_inputs(bad, 32)
    with pytest.raises(DataError, match="shape"):
        candidate_inputs(pf[..., :5], 32)


def test_linformer_layer_shapes() -> None:
    import tensorflow as tf

    from wnae.hlt.encoders import LinformerSelfAttention

    layer = LinformerSelfAttention(4, 8)
    x = tf.random.normal((3, 32, 16))
    out = layer([x, tf.ones((3, 32, 1))])
    assert out.shape == (3, 32, 16)
    assert layer.e.shape == (8, 32) and layer.f.shape == (8, 32)  # keys, values: length 32 → k = 8
    enc = _build("linformer")
    z = enc(candidate_inputs(random_pf_candidates(5, seed=2, n_max=32), 32))
    assert z.shape == (5, 6)
    assert enc.get_layer("block0_attention").k == 8


@pytest.mark.parametrize("kind", ["linformer", "deepsets", "pf_mlp"])
def test_padded_candidates_change_nothing(kind: str) -> None:
    enc = _build(kind, mlp_candidates=32)
    pf = random_pf_candidates(16, seed=3, n_max=32)
    x = candidate_inputs(pf, 32)
    z = enc(x).numpy()
    garbage = x.copy()
    pad = ~candidate_mask(x)
    assert pad.any()
    garbage[pad, :6] = np.random.default_rng(4).normal(size=(int(pad.sum()), 6)) * 10
    np.testing.assert_allclose(enc(garbage).numpy(), z, rtol=1e-5, atol=1e-5)
    # a file with fewer slots (the same candidates, less padding) gives the same z
    n = int((pf[..., 5] > 0).sum(axis=1).max())
    np.testing.assert_allclose(enc(candidate_inputs(pf[:, :n], 32)).numpy(), z, rtol=1e-5, atol=1e-5)
    # dropping an event's softest candidate = padding it: the event changes, its neighbours do not
    last = int((pf[0, :, 5] > 0).sum()) - 1
    fewer = pf.copy()
    fewer[0, last] = 0
    z2 = enc(candidate_inputs(fewer, 32)).numpy()
    np.testing.assert_allclose(z2[1:], z[1:], rtol=1e-5, atol=1e-5)
    assert not np.allclose(z2[0], z[0])


def test_deepsets_is_permutation_invariant() -> None:
    enc = _build("deepsets")
    x = candidate_inputs(random_pf_candidates(8, seed=5, n_max=32), 32)
    perm = np.random.default_rng(6).permutation(32)
    np.testing.assert_allclose(enc(x[:, perm]).numpy(), enc(x).numpy(), rtol=1e-5, atol=1e-5)


def test_l1_mlp_shape() -> None:
    enc = _build("l1_mlp", widths=[32, 16])
    assert enc(np.zeros((4, 57), np.float32)).shape == (4, 6)


def test_augment_candidates_keeps_a_valid_layout() -> None:
    from wnae.data.validate import validate_pf_candidates

    pf = random_pf_candidates(200, seed=7, n_max=32)
    out = augment_candidates(pf, np.random.default_rng(8), drop_pt_gev=2.0, drop_probability=0.5)
    validate_pf_candidates(out.astype(np.float16))
    n_in, n_out = (pf[..., 5] > 0).sum(axis=1), (out[..., 5] > 0).sum(axis=1)
    assert np.all(n_out <= n_in) and n_out.sum() < n_in.sum()
    assert np.all(np.abs(out[..., 2]) <= np.pi)
    # d_xy is transverse: the same multiset of values per event, up to the dropped candidates
    kept = out[..., 5] > 0
    assert set(np.round(out[0, kept[0], 3], 3)) <= set(np.round(pf[0, :, 3].astype(np.float32), 3))
    with pytest.raises(ValueError, match="multiple of n_heads"):
        EncoderConfig(embed_dim=30, n_heads=4)

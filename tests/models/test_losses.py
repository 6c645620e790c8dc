"""Each loss against an independent computation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import tensorflow as tf

from wnae.models import losses


def test_emd_of_shifted_point_set_is_the_squared_shift():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    shift = np.array([0.5, -1.0, 2.0], np.float32)
    # translating a cloud: the optimal plan is the identity, cost = |shift|^2 … unless a permutation is cheaper,
    # which it never is for a pure translation (cyclical monotonicity)
    value = float(losses.emd_loss(tf.constant(x), tf.constant(x + shift)))
    assert value == pytest.approx(float(np.sum(shift**2)), rel=1e-5)


def test_emd_matches_brute_force_assignment():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(5, 2)).astype(np.float32)
    b = rng.normal(size=(5, 2)).astype(np.float32)
    cost = ((a[:, None] - b[None]) ** 2).sum(-1)
    best = min(sum(cost[i, p[i]] for i in range(5)) for p in itertools.permutations(range(5))) / 5
    assert float(losses.emd_loss(tf.constant(a), tf.constant(b))) == pytest.approx(best, rel=1e-5)


def test_emd_gradient_pulls_negatives_towards_data():
    a = tf.constant([[0.0, 0.0], [1.0, 0.0]])
    b = tf.Variable([[0.0, 1.0], [1.0, 1.0]])
    with tf.GradientTape() as tape:
        loss = losses.emd_loss(a, b)
    grad = tape.gradient(loss, b).numpy()
    np.testing.assert_allclose(grad, [[0.0, 1.0], [0.0, 1.0]], atol=1e-6)  # d/db of 0.5*sum|a-b|^2


def test_sliced_emd_is_zero_for_identical_sets_and_matches_1d():
    x = tf.constant(np.random.default_rng(2).normal(size=(64, 4)).astype(np.float32))
    assert float(losses.sliced_emd_loss(x, x, n_projections=8)) == pytest.approx(0.0, abs=1e-8)
    a = tf.constant(np.array([[0.0], [1.0], [2.0]], np.float32))
    b = tf.constant(np.array([[3.0], [4.0], [5.0]], np.float32))
    assert float(losses.sliced_emd_loss(a, b, n_projections=4)) == pytest.approx(9.0, rel=1e-5)


def test_nae_and_kl_and_energy():
    e_pos, e_neg = tf.constant([1.0, 3.0]), tf.constant([2.0, 4.0])
    assert float(losses.nae_loss(e_pos, e_neg, gamma=0.5)) == pytest.approx(2.0 - 3.0 + 0.5 * 10.0)
    assert float(losses.kl_divergence(tf.zeros((1, 3)), tf.zeros((1, 3)))[0]) == 0.0
    mu, lv = np.array([[1.0, -2.0]]), np.array([[0.5, -0.3]])
    expected = -0.5 * np.sum(1 + lv - mu**2 - np.exp(lv))
    assert float(losses.kl_divergence(tf.constant(mu), tf.constant(lv))[0]) == pytest.approx(expected)
    x, r = np.array([[1.0, 2.0, 3.0]]), np.array([[1.0, 0.0, 0.0]])
    assert float(losses.reconstruction_energy(tf.constant(x), tf.constant(r))[0]) == pytest.approx(13 / 3)


def test_info_nce_against_numpy():
    rng = np.random.default_rng(3)
    z1, z2 = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    t = 0.3
    z = np.concatenate([z1, z2])
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    sim = z @ z.T / t
    np.fill_diagonal(sim, -np.inf)
    pos = np.concatenate([np.arange(4, 8), np.arange(4)])
    expected = np.mean([-(sim[i, pos[i]] - np.log(np.exp(sim[i]).sum())) for i in range(8)])
    got = float(losses.info_nce_loss(tf.constant(z1), tf.constant(z2), t))
    assert got == pytest.approx(expected, rel=1e-5)
    # perfectly aligned views give a lower loss than random ones
    assert float(losses.info_nce_loss(tf.constant(z1), tf.constant(z1), t)) < got


def test_emd_loss_equals_pot_emd2_on_unequal_sizes():
    import ot

    rng = np.random.default_rng(5)
    a = rng.normal(size=(12, 4))
    b = rng.normal(size=(7, 4)) + 1.0
    expected = ot.emd2(np.full(12, 1 / 12), np.full(7, 1 / 7), ot.dist(a, b))  # squared Euclidean
    got = float(losses.emd_loss(tf.constant(a, tf.float32), tf.constant(b, tf.float32)))
    assert got == pytest.approx(expected, rel=1e-5)


def test_sliced_emd_lower_bounds_the_exact_emd_and_is_positive():
    rng = np.random.default_rng(6)
    a = tf.constant(rng.normal(size=(64, 5)), tf.float32)
    b = tf.constant(rng.normal(size=(64, 5)) * 2.0 + 0.5, tf.float32)
    sliced = float(losses.sliced_emd_loss(a, b, n_projections=256, seed=1))
    exact = float(losses.emd_loss(a, b))
    # the optimal full plan is admissible for every projection and E_θ[(θᵀv)²] = |v|²/d for θ uniform on
    # the sphere, so E_θ W2²(θᵀa, θᵀb) ≤ W2²(a, b)/d (up to the Monte Carlo error of 256 projections)
    assert 0 < sliced <= exact / 5 * 1.2
    g = tf.Variable(b)
    with tf.GradientTape() as tape:
        loss = losses.sliced_emd_loss(a, g, n_projections=32, seed=2)
    grad = tape.gradient(loss, g)
    assert grad is not None and np.all(np.isfinite(grad.numpy())) and float(tf.reduce_sum(tf.abs(grad))) > 0

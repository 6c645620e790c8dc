"""The sampler's Metropolis correction, the exact-W fit diagnostics and the kept-epoch rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from wnae.config import parse_config
from wnae.models.config import TrainConfig
from wnae.models.registry import build_model
from wnae.models.sampler import langevin_chain, sample_chain
from wnae.models.wnae import diagnostic_subsets
from wnae.train.loop import best_epoch, diagnosed


def _quadratic(v):
    """E(x) = ‖x‖²/2: exp(−E/T) is 𝒩(0, T) in every coordinate."""
    return 0.5 * tf.reduce_sum(tf.square(v), axis=-1)


@pytest.mark.parametrize("step_size", [0.05, 0.8])
def test_metropolis_langevin_samples_the_boltzmann_density_at_any_step(step_size):
    # at step 0.8 the unadjusted chain's stationary variance is T / (1 - step/2) = 1.67 T, not T
    x0 = np.zeros((4000, 2), np.float32)
    kwargs = {"step_size": step_size, "noise": math.sqrt(2 * step_size), "temperature": 1.0, "bound": 50.0, "seed": 1}
    x_mala, acceptance = sample_chain(_quadratic, x0, steps=300, metropolis=True, **kwargs)
    assert np.var(x_mala) == pytest.approx(1.0, rel=0.08)
    assert 0.0 < acceptance <= 1.0
    x_ula, acceptance_ula = sample_chain(_quadratic, x0, steps=300, metropolis=False, **kwargs)
    assert acceptance_ula == 1.0
    assert np.var(x_ula) == pytest.approx(1.0 / (1.0 - step_size / 2.0), rel=0.08)


def test_the_differentiable_chain_with_metropolis_refuses_unstable_steps_and_stays_differentiable():
    scale = tf.Variable(1.0)
    x0 = tf.constant(np.random.default_rng(0).normal(size=(256, 2)).astype(np.float32))
    gen = tf.random.Generator.from_seed(3)
    with tf.GradientTape() as tape:
        # curvature 30 with step 0.1: explicit Euler overshoots (|1 - 0.1·30| = 2 > 1)
        x = langevin_chain(
            lambda v: scale * 15.0 * tf.reduce_sum(tf.square(v), -1),
            x0,
            steps=20,
            step_size=0.1,
            noise=math.sqrt(0.2),
            temperature=1.0,
            bound=100.0,
            generator=gen,
            metropolis=True,
        )
        loss = tf.reduce_sum(tf.square(x))
    assert float(tf.reduce_max(tf.abs(x))) < 5.0  # without the correction the chain grows by 2x per step
    assert tape.gradient(loss, scale) is not None


def test_diagnostic_subsets_are_disjoint_fixed_and_random():
    a, b = diagnostic_subsets(10_000, 1000, seed=7)
    assert len(a) == len(b) == 1000 and not set(a) & set(b)
    assert a.min() > 0 and a.max() > 5000  # spread over the rows, not the first ones (files are ordered by process)
    a2, _ = diagnostic_subsets(10_000, 1000, seed=7)
    np.testing.assert_array_equal(a, a2)
    assert len(diagnostic_subsets(300, 1000, seed=7)[0]) == 150  # halves of a small sample
    assert diagnostic_subsets(3, 1000, seed=7) is None
    assert diagnostic_subsets(10_000, 0, seed=7) is None


@pytest.mark.slow
def test_epoch_diagnostics_measure_the_fit_with_the_exact_w_without_touching_training_streams():
    cfg = parse_config(
        TrainConfig,
        {
            "model": "wnae",
            "batch_size": 64,
            "architecture": {"encoder": [8], "latent_dim": 2},
            "mcmc": {
                "steps": 3,
                "buffer_size": 256,
                "distance": "emd",
                "diagnostics": {"events": 100, "long_steps": 20},
            },
        },
    )
    fam = build_model("wnae", cfg, 0, dim=6)
    fam.build_optimizer()
    x = np.random.default_rng(6).normal(size=(400, 6)).astype(np.float32)
    fam.train_step({"features": x[:64]}, epoch=0)
    noise_state = fam.noise.state.numpy().copy()
    buffer_state = fam.buffer.rng_state()
    d = fam.epoch_diagnostics(x, epoch=0)
    assert {
        "w_exact",
        "w_exact_long",
        "w_floor",
        "w_ratio",
        "diag_energy_pos",
        "diag_energy_neg",
        "diag_neg_std_ratio",
        "selection_score",
    } <= set(d)
    assert d["w_floor"] > 0 and d["w_ratio"] == pytest.approx(d["w_exact"] / d["w_floor"])
    assert d["selection_score"] == pytest.approx(max(d["w_exact"], d["w_exact_long"]) / d["w_floor"])
    np.testing.assert_array_equal(fam.noise.state.numpy(), noise_state)  # training's streams untouched
    assert fam.buffer.rng_state() == buffer_state
    assert fam.epoch_diagnostics(x, epoch=0) == d  # reproducible


def test_best_epoch_picks_the_lowest_eligible_finite_score():
    history = {"selection_score": [math.nan, 3.0, 1.0, 2.0, 0.5]}
    assert best_epoch(history, lambda e: True) == 5
    assert best_epoch(history, lambda e: e < 4) == 3  # 1-based
    assert best_epoch(history, lambda e: e == 0) is None
    assert best_epoch({}, lambda e: True) is None


def test_diagnosed_epochs_are_every_nth_and_the_last():
    assert [e for e in range(10) if diagnosed(e, 10, 1)] == list(range(10))
    assert [e for e in range(10) if diagnosed(e, 10, 3)] == [2, 5, 8, 9]  # 0-based: epochs 3, 6, 9 and the last
    assert [e for e in range(4) if diagnosed(e, 4, 2)] == [1, 3]


def test_the_reconstruction_weight_adds_the_data_energy_to_w():
    def family(weight: float):
        cfg = parse_config(
            TrainConfig,
            {
                "model": "wnae",
                "batch_size": 32,
                "architecture": {"encoder": [8], "latent_dim": 2},
                "mcmc": {"steps": 2, "buffer_size": 64, "distance": "emd", "reconstruction_weight": weight},
            },
        )
        return build_model("wnae", cfg, 0, dim=4)

    rng = np.random.default_rng(3)
    x_pos, x_neg = (tf.constant(rng.normal(size=(32, 4)).astype(np.float32)) for _ in range(2))
    e_pos = tf.constant(rng.uniform(size=32).astype(np.float32))
    plain, weighted = family(0.0), family(2.5)
    w = float(plain.objective_loss(x_pos, x_neg, e_pos, e_pos, "wnae"))
    assert float(weighted.objective_loss(x_pos, x_neg, e_pos, e_pos, "wnae")) == pytest.approx(
        w + 2.5 * float(np.mean(e_pos)), rel=1e-5
    )

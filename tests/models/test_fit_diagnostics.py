"""The sampler's Metropolis correction, the exact-W fit diagnostics and the kept-epoch rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from wnae.config import parse_config
from wnae.models.config import TrainConfig
from wnae.models.registry import build_model
from wnae.models.sampler import covariance_preconditioner, langevin_chain, sample_chain
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


def test_the_covariance_preconditioner_has_the_data_shape_and_mean_variance_one():
    rng = np.random.default_rng(0)
    x = rng.multivariate_normal([1.0, -2.0, 0.0], [[4.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.25]], size=5000)
    lower = covariance_preconditioner(x.astype(np.float32)).numpy()
    assert np.allclose(lower, np.tril(lower))
    cov = np.cov(x, rowvar=False)
    expected = 3 * cov / np.trace(cov) + 1e-3 * np.eye(3)
    np.testing.assert_allclose(lower @ lower.T, expected, rtol=1e-4, atol=1e-5)


def _ill_conditioned_gaussian():
    """E = xᵀΣ⁻¹x/2 with Σ = R diag(4, 0.04) Rᵀ (R a 30° rotation): exp(−E) is 𝒩(0, Σ)."""
    c, s = math.cos(math.pi / 6), math.sin(math.pi / 6)
    rot = np.array([[c, -s], [s, c]])
    sigma = rot @ np.diag([4.0, 0.04]) @ rot.T
    precision = tf.constant(np.linalg.inv(sigma).astype(np.float32))
    return sigma, lambda v: 0.5 * tf.reduce_sum(tf.matmul(v, precision) * v, axis=-1)


def test_the_preconditioned_chain_samples_every_direction_at_its_own_scale():
    sigma, energy = _ill_conditioned_gaussian()
    lower = covariance_preconditioner(
        np.random.default_rng(1).multivariate_normal([0, 0], sigma, 20_000).astype(np.float32)
    )
    x0 = np.zeros((4000, 2), np.float32)
    kwargs = {"step_size": 0.05, "noise": math.sqrt(0.1), "temperature": 1.0, "bound": 50.0, "seed": 2, "steps": 100}
    x_pre, _ = sample_chain(energy, x0, preconditioner=lower.numpy(), **kwargs)
    np.testing.assert_allclose(np.cov(x_pre, rowvar=False), sigma, rtol=0.1, atol=0.02)  # the target, both ways
    x_plain, _ = sample_chain(energy, x0, **kwargs)
    wide = np.linalg.eigh(sigma)[1][:, 1]
    assert np.var(x_plain @ wide) < 0.95 * 4.0  # the plain chain has not spread along the wide direction yet
    assert np.var(x_pre @ wide) == pytest.approx(4.0, rel=0.08)
    # the differentiable chain takes the same preconditioned steps
    x_tf = langevin_chain(energy, tf.constant(x0), preconditioner=lower, **kwargs)
    assert np.var(x_tf.numpy() @ wide) == pytest.approx(4.0, rel=0.08)


def test_the_preconditioned_sampler_refuses_the_metropolis_correction():
    from wnae.errors import ConfigError

    with pytest.raises(ConfigError, match="precondition"):
        parse_config(TrainConfig, {"model": "wnae", "mcmc": {"precondition": "covariance", "metropolis": True}})
    with pytest.raises(ValueError, match="Metropolis"):
        sample_chain(
            _quadratic,
            np.zeros((4, 2), np.float32),
            steps=1,
            step_size=0.1,
            noise=0.5,
            temperature=1.0,
            bound=5.0,
            seed=0,
            metropolis=True,
            preconditioner=np.eye(2, dtype=np.float32),
        )


def _tiny_wnae(dim: int, **mcmc):
    """A small WNAE (batch 64, 3 sampler steps, exact W), its optimizer built."""
    cfg = parse_config(
        TrainConfig,
        {
            "model": "wnae",
            "batch_size": 64,
            "architecture": {"encoder": [8], "latent_dim": 2},
            "mcmc": {"steps": 3, "buffer_size": 256, "distance": "emd", **mcmc},
        },
    )
    fam = build_model("wnae", cfg, 0, dim=dim)
    fam.build_optimizer()
    return fam


def test_a_preconditioned_wnae_trains_and_measures_its_fit_with_its_own_sampler():
    def family(precondition: str):
        return _tiny_wnae(4, precondition=precondition, diagnostics={"events": 100, "long_steps": 10})

    rng = np.random.default_rng(4)
    x = (rng.normal(size=(400, 4)) * np.array([3.0, 1.0, 0.3, 0.1])).astype(np.float32)
    plain, pre = family("none"), family("covariance")
    out_plain = plain.train_step({"features": x[:64]}, epoch=0)
    out_pre = pre.train_step({"features": x[:64]}, epoch=0)
    assert math.isfinite(out_pre["loss"]) and out_pre["loss"] != out_plain["loss"]
    # the negatives move along the data's wide direction more than along its narrow one
    moved = np.abs(pre.buffer.samples - plain.buffer.samples)  # the same starts, the same noise draws
    assert moved[:, 0].mean() > moved[:, 3].mean()
    d = pre.epoch_diagnostics(x, epoch=0)
    assert d["w_exact"] > 0 and d["selection_score"] > 0


def test_long_chains_expose_a_low_energy_valley_that_short_chains_hide():
    # E = x₂²/2: flat along x₁, so exp(−E/T) spreads over the whole box along x₁ while the data sit
    # in 𝒩(0, 1); chains started on the data (a replay buffer of data-like points) stay there for a
    # few steps and drift along the valley given many
    cfg = parse_config(
        TrainConfig,
        {
            "model": "wnae",
            "mcmc": {
                "steps": 5,
                "noise": 0.1,
                "temperature": 1.0,
                "bound": 6.0,
                "diagnostics": {"events": 500, "long_steps": 5, "equilibrium_steps": 20_000},
            },
        },
    )
    fam = build_model("wnae", cfg, 0, dim=2)
    rng = np.random.default_rng(0)
    data = rng.standard_normal((2000, 2)).astype(np.float32)
    fam.buffer.set_samples(rng.standard_normal((4000, 2)).astype(np.float32))
    valley = tf.function(lambda v: 0.5 * tf.square(v[:, 1]), reduce_retracing=True)
    fam._diagnostic_energy = lambda: valley
    short = fam.epoch_diagnostics(data, epoch=5)
    eq = fam.equilibrium_diagnostics(data)
    assert short["w_long_ratio"] < 2.0  # the short chains look like the data
    assert eq["w_equilibrium_ratio"] > 5.0  # exp(-E/T) does not
    assert eq["diag_neg_std_ratio_equilibrium"] > 1.5  # spread along x1 over the box (uniform in ±6: 3.5)
    assert eq == fam.equilibrium_diagnostics(data)  # fixed subsets and noise
    off = cfg.mcmc.diagnostics.model_copy(update={"equilibrium_steps": 0})
    fam.cfg = cfg.model_copy(update={"mcmc": cfg.mcmc.model_copy(update={"diagnostics": off})})
    assert fam.equilibrium_diagnostics(data) == {}


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
    fam = _tiny_wnae(6, diagnostics={"events": 100, "long_steps": 20})
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

"""The W estimators: exact solvers against POT, the neural dual against a closed form, the family's use of them."""

from __future__ import annotations

import time

import numpy as np
import ot
import pytest
import tensorflow as tf

from wnae.config import parse_config
from wnae.models import losses, transport
from wnae.models.config import TrainConfig
from wnae.models.registry import build_model


def _clouds(n: int, d: int, seed: int, m: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)).astype(np.float32), (0.5 + 1.3 * rng.normal(size=(m or n, d))).astype(np.float32))


@pytest.mark.parametrize(("n", "d"), [(64, 57), (300, 10), (512, 3)])
def test_assignment_matches_pot_emd2(n, d):
    a, b = _clouds(n, d, seed=n)
    cost = ot.dist(a.astype(np.float64), b.astype(np.float64))
    reference = ot.emd2(np.full(n, 1 / n), np.full(n, 1 / n), cost, numItermax=10_000_000)
    for solver in transport.EXACT_SOLVERS:
        assert transport.exact_w2(a, b, solver) == pytest.approx(reference, rel=1e-6)


def test_assignment_is_exact_on_degenerate_batches():
    """Ties everywhere (chains clamped to one corner of the bounds, duplicated data, identical clouds):
    the Jonker-Volgenant solver still returns a permutation of the network simplex's cost."""
    rng = np.random.default_rng(7)
    data = rng.normal(size=(256, 10))
    clamped = np.clip(3.0 * rng.normal(size=(256, 10)), -6.0, 6.0)
    clamped[:150] = 6.0
    duplicated = data.copy()
    duplicated[:100] = data[0]
    for a, b in [(data, clamped), (duplicated, clamped), (data, data), (np.zeros((64, 3)), np.zeros((64, 3)))]:
        cost = ot.dist(a, b)
        n = len(a)
        reference = ot.emd2(np.full(n, 1 / n), np.full(n, 1 / n), cost, numItermax=10_000_000)
        for backend in transport.ASSIGNMENT_BACKENDS:
            cols = transport.assignment_columns(cost, backend)
            assert sorted(cols.tolist()) == list(range(n))
            assert float(cost[np.arange(n), cols].mean()) == pytest.approx(reference, rel=1e-9, abs=1e-12)
    with pytest.raises(ValueError, match="square cost matrix, got shape"):
        transport.assignment_columns(np.zeros((3, 4)))


def test_auto_backend_times_both_on_the_first_problems_of_each_size_and_keeps_the_faster(monkeypatch, caplog):
    """The first three problems of >= 256 rows of each size are solved by both implementations and timed;
    the faster in total (here made so: SciPy sleeps at 300 rows, lapjv at 260) solves every later problem
    of that size; smaller problems take lapjv untimed."""
    monkeypatch.setattr(transport, "_calibration", {})
    calls = []
    solve = transport._solve_assignment
    slow = {300: "scipy", 260: "lapjv"}

    def timed(cost, backend):
        calls.append((len(cost), backend))
        if slow.get(len(cost)) == backend:
            time.sleep(0.1)
        return solve(cost, backend)

    monkeypatch.setattr(transport, "_solve_assignment", timed)
    small, large, other = (ot.dist(*_clouds(n, 3, seed=n)) for n in (32, 300, 260))
    transport.assignment_columns(small)
    assert calls == [(32, "lapjv")]
    with caplog.at_level("INFO", logger="wnae.models.transport"):
        for _ in range(3):
            cols = transport.assignment_columns(large)
            assert sorted(cols.tolist()) == list(range(300))
            assert 300 not in transport.assignment_backend() or _ == 2
        for _ in range(3):
            transport.assignment_columns(other)
    assert transport.assignment_backend() == {300: "lapjv", 260: "scipy"}
    assert [c for c in calls if c[0] == 300] == [(300, "lapjv"), (300, "scipy")] * 3
    assert "exact assignment of 300 rows: lapjv" in caplog.text
    assert "exact assignment of 260 rows: scipy" in caplog.text
    calls.clear()
    transport.assignment_columns(large)
    transport.assignment_columns(other)
    transport.assignment_columns(small)
    assert calls == [(300, "lapjv"), (260, "scipy"), (32, "lapjv")]
    with pytest.raises(ValueError, match="unknown assignment backend 'hungarian'"):
        transport.assignment_columns(small, "hungarian")


def test_training_step_solves_with_the_configured_backend(monkeypatch):
    """The WNAE's step takes mcmc.assignment_backend, never the timed choice: the run stays reproducible."""
    backends = []
    solve = transport._solve_assignment
    monkeypatch.setattr(transport, "_solve_assignment", lambda cost, b: backends.append(b) or solve(cost, b))
    for backend in ("scipy", "lapjv"):
        cfg = parse_config(
            TrainConfig,
            {"model": "wnae", "mcmc": {"steps": 2, "buffer_size": 64, "assignment_backend": backend}},
        )
        fam = build_model("wnae", cfg, 0)
        fam.build_optimizer()
        x = np.random.default_rng(0).normal(size=(32, fam.dim)).astype(np.float32)
        backends.clear()
        fam.train_step({"features": x}, epoch=0)
        assert backends == [backend]
        assert fam.describe()["assignment_backend"] == backend


def test_exact_targets_are_a_matching_and_the_plan_barycentre_on_unequal_sizes():
    a, b = _clouds(40, 5, seed=1)
    w, targets = transport.exact_targets(a, b, "assignment")
    # a permutation: every data point is the target of exactly one negative, and W is their mean cost
    rows = [int(np.flatnonzero((a == t).all(axis=1))[0]) for t in targets]
    assert sorted(rows) == list(range(40))
    assert w == pytest.approx(float(np.mean(np.sum((b - targets) ** 2, axis=1))), rel=1e-6)
    # unequal sizes fall back to the network simplex; the targets are the plan's barycentres
    a, b = _clouds(30, 4, seed=2, m=20)
    w, targets = transport.exact_targets(a, b, "assignment")
    cost = ot.dist(a.astype(np.float64), b.astype(np.float64))
    plan = ot.emd(np.full(30, 1 / 30), np.full(20, 1 / 20), cost)
    assert w == pytest.approx(float((plan * cost).sum()), rel=1e-6)
    np.testing.assert_allclose(targets, 20 * plan.T @ a, rtol=1e-5, atol=1e-6)


def test_squared_distances_match_the_broadcast_difference():
    a, b = _clouds(50, 57, seed=3, m=70)
    got = transport.squared_distances(tf.constant(a), tf.constant(b)).numpy()
    np.testing.assert_allclose(got, ((a[:, None] - b[None]) ** 2).sum(-1), rtol=1e-4, atol=1e-3)


def _family(distance: str, dim: int = 6, **critic):
    cfg = parse_config(
        TrainConfig,
        {
            "model": "wnae",
            "batch_size": 64,
            "architecture": {"encoder": [8], "latent_dim": 2},
            "mcmc": {"steps": 2, "buffer_size": 128, "distance": distance, "critic": critic},
        },
    )
    return build_model("wnae", cfg, 0, dim=dim)


@pytest.mark.parametrize("solver", ["emd", "assignment"])
def test_family_exact_w_has_the_value_and_gradient_of_the_pot_loss(solver):
    """The value is W; the gradient in the negatives is that of Σ π ⊙ C, as POT's plan gives it."""
    a, b = _clouds(48, 6, seed=4)
    fam = _family(solver)
    x_pos, x_neg = tf.constant(a), tf.Variable(b)
    with tf.GradientTape(persistent=True) as tape:
        ours = fam.wasserstein(x_pos, x_neg)
        reference = losses.emd_loss(x_pos, x_neg)
    assert float(ours) == pytest.approx(float(reference), rel=1e-5)
    np.testing.assert_allclose(tape.gradient(ours, x_neg), tape.gradient(reference, x_neg), rtol=1e-4, atol=1e-6)


def test_neural_dual_converges_to_the_closed_form_w2_of_two_gaussians():
    """N(0, I₂) vs N(μ, s²I₂): W₂² = |μ|² + d(1 − s)² = 4.5. The estimate is a lower bound on the batch W (weak
    duality) and, after 400 ascent steps on fresh batches, within 5 % of the closed form (the batch W of 2048
    points itself scatters by ~2 % around it)."""
    d, mu, s = 2, np.array([2.0, 0.0]), 1.5
    truth = mu @ mu + d * (1 - s) ** 2
    rng = np.random.default_rng(0)

    def pair(n: int) -> tuple[np.ndarray, np.ndarray]:
        return (rng.normal(size=(n, d)).astype(np.float32), (mu + s * rng.normal(size=(n, d))).astype(np.float32))

    dual = transport.NeuralDual(d, [64, 64], 3e-3, steps=1, seed=0)
    ascend = tf.function(dual.ascend)
    for _ in range(400):
        x, y = (tf.constant(v) for v in pair(256))
        ascend(x, transport.squared_distances(x, y))
    estimates, exact = [], []
    for _ in range(3):
        x, y = pair(2048)
        estimates.append(dual.targets(x, y)[0])
        exact.append(transport.exact_w2(x, y))
        assert estimates[-1] <= exact[-1] + 1e-4  # weak duality, per batch
    assert np.mean(estimates) == pytest.approx(truth, rel=0.05)
    assert np.mean(estimates) == pytest.approx(np.mean(exact), rel=0.03)


def test_gradient_cosine_is_one_for_equal_targets_and_orthogonal_case():
    x_neg = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert transport.gradient_cosine(x_neg, np.zeros((2, 2)), np.zeros((2, 2))) == pytest.approx(1.0)
    # gradients (1, 0, 0, 1) and (0, 0, 0, 1) - (…): build targets so the two gradients are orthogonal
    assert transport.gradient_cosine(
        x_neg, np.array([[0.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 0.0], [0.0, 0.0]])
    ) == pytest.approx(0.0)


def test_unknown_exact_solver_is_refused():
    a, b = _clouds(4, 2, seed=5)
    with pytest.raises(ValueError, match="unknown exact solver 'sinkhorn'"):
        transport.exact_targets(a, b, "sinkhorn")


def test_neural_family_trains_its_critic_and_checkpoints_it():
    fam = _family("neural", warmup_steps=5, steps=1)
    fam.build_optimizer()
    assert {"critic", "critic_optimizer"} <= set(fam.checkpoint_objects())
    x = np.random.default_rng(6).normal(size=(64, 6)).astype(np.float32)
    before = [v.numpy().copy() for v in fam.dual.critic.trainable_variables]
    out = fam.train_step({"features": x}, epoch=0)
    assert np.isfinite(out["loss"])
    assert int(fam.dual.optimizer.iterations) == 5 + 1  # the warm-up, then one ascent step per training step
    assert any(
        not np.array_equal(b, v.numpy()) for b, v in zip(before, fam.dual.critic.trainable_variables, strict=True)
    )
    diagnostics = fam.epoch_diagnostics(x, epoch=0)
    assert {"neural_w_rel_error", "neural_grad_cosine", "w_neural", "w_exact"} <= set(diagnostics)
    assert diagnostics["neural_w_rel_error"] <= 1e-4  # a lower bound on the exact W
    assert fam.describe() == {"objective": "wnae", "distance": "neural"}


def test_xla_is_refused_with_an_exact_solver_and_compiles_the_neural_step():
    from wnae.errors import ModelError

    with pytest.raises(ModelError, match="distance 'assignment' solves W outside TensorFlow"):
        build_model("wnae", parse_config(TrainConfig, {"mcmc": {"xla": True, "distance": "assignment"}}), 0)
    cfg = parse_config(
        TrainConfig,
        {
            "batch_size": 32,
            "architecture": {"encoder": [8], "latent_dim": 2},
            "mcmc": {"steps": 2, "buffer_size": 64, "distance": "neural", "xla": True, "critic": {"widths": [8]}},
        },
    )
    fam = build_model("wnae", cfg, 0, dim=4)
    fam.build_optimizer()
    out = fam.train_step({"features": np.random.default_rng(7).normal(size=(32, 4)).astype(np.float32)}, epoch=0)
    assert np.isfinite(out["loss"])


@pytest.mark.slow
def test_a_neural_run_records_its_estimator_step_time_and_accuracy(tmp_path):
    from tests.conftest import write_toy_data_dir
    from wnae.train.loop import train

    data_dir = write_toy_data_dir(tmp_path / "data", n_background=200, n_zero_bias=10, n_signal=10)
    cfg = parse_config(
        TrainConfig,
        {
            "model": "wnae",
            "epochs": 2,
            "batch_size": 64,
            "architecture": {"encoder": [8], "latent_dim": 2},
            "mcmc": {"steps": 2, "buffer_size": 256, "pretrain_epochs": 1, "distance": "neural"},
        },
    )
    result = train(cfg, data_dir=data_dir, runs_dir=tmp_path, name="n", progress=False)
    assert result.metrics["distance"] == "neural"
    history = result.history
    assert all(ms > 0 for ms in history["step_ms"])
    # the estimator's accuracy, from the first WNAE epoch on (NaN during the AE warm-up)
    assert np.isnan(history["neural_grad_cosine"][0])
    assert -1.0 <= history["neural_grad_cosine"][1] <= 1.0
    assert history["neural_w_rel_error"][1] <= 1e-4  # a lower bound on the exact W
    exact = train(
        cfg.model_copy(update={"mcmc": cfg.mcmc.model_copy(update={"distance": "assignment"})}),
        data_dir=data_dir,
        runs_dir=tmp_path,
        name="e",
        progress=False,
    )
    assert exact.metrics["distance"] == "assignment"
    assert exact.metrics["assignment_backend"] == "lapjv"  # fixed: a run does not depend on timing
    assert exact.history["solver_ms"][1] > 0
    assert "neural_grad_cosine" not in exact.history

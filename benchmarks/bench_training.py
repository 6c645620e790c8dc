"""Training cost on this machine: W estimators, the WNAE step and its parts, events/s per model.

    .venv/bin/python benchmarks/bench_training.py [--data-dir data] [--tables solvers,estimators,parts,shares,models]
        [--batches 512,2048,8192] [--estimators emd,assignment,sliced,neural] [--exact-max-batch 8192]

Prints up to five tables (``print`` is fine here: benchmarks are scripts, not library code):

1. ``solvers``: one W evaluation between two (n, 57) Gaussian clouds, milliseconds: POT's network
   simplex (``ot.emd2``), the linear assignment (:func:`wnae.models.transport.exact_w2`) by each of
   its implementations (``lapjv``, SciPy's ``linear_sum_assignment``; which is faster depends on the
   CPU and on the problem: a trained run's own problems are timed by ``bench_assignment.py``), the
   sliced distance (POT, 128 projections) and the neural estimate (a forward pass of
   :class:`~wnae.models.transport.NeuralDual`, untrained: its cost does not depend on training).
2. ``estimators``: one full training step (Langevin chain, W, update; what ``wnae train`` runs) of
   the full-input WNAE (``train_wnae.yml``) and of the two-stage model's WNAE head
   (``train_two_stage.yml``, head phase) for each ``mcmc.distance`` × batch size: ms/step and events/s.
3. ``parts``: each change to the rest of the step measured on its own: the Langevin noise drawn
   by a stateful ``tf.random.Generator.normal`` vs one seed + ``stateless_normal``, and XLA
   (``jit_compile=True``) vs the graph executor for the chain and for the chain's gradient.
4. ``shares``: share of one WNAE step in the MCMC (forward chain), the W estimate and the update.
5. ``models``: training throughput (events/s) of each model family with its shipped config.

SM training events of ``--data-dir`` (a toy data directory in a temporary folder when it has none).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def _time(fn, reps: int) -> float:
    """Median seconds of ``fn()`` over ``reps`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_solvers(sizes: list[int]) -> None:
    import ot
    import tensorflow as tf

    from wnae.models import transport

    rng = np.random.default_rng(0)
    print("\n## One W evaluation, (n, 57) vs (n, 57), milliseconds (median)")
    print(f"{'n':>6} {'ot.emd2':>10} {'lapjv':>8} {'scipy':>8} {'sliced':>8} {'neural':>8}")
    dual = transport.NeuralDual(57, [128, 128], 1e-3, 1, 0)
    estimate = tf.function(dual.estimate)
    for n in sizes:
        x = rng.normal(size=(n, 57))
        y = rng.normal(size=(n, 57)) * 1.2
        w = np.full(n, 1.0 / n)
        reps = 1 if n >= 4096 else 3
        exact = _time(lambda: ot.emd2(w, w, ot.dist(x, y), numItermax=10_000_000), reps)  # noqa: B023
        lapjv, scipy = (_time(lambda b=b: transport.exact_w2(x, y, "assignment", b), reps)  # noqa: B023
                        for b in transport.ASSIGNMENT_BACKENDS)
        sliced = _time(lambda: ot.sliced_wasserstein_distance(x, y, n_projections=128, seed=0), reps)  # noqa: B023
        xt, yt = tf.constant(x, tf.float32), tf.constant(y, tf.float32)
        neural = _time(lambda: estimate(xt, yt).numpy(), max(reps, 3))  # noqa: B023
        print(f"{n:>6} {1e3 * exact:>10.1f} {1e3 * lapjv:>8.1f} {1e3 * scipy:>8.1f} {1e3 * sliced:>8.1f} "
              f"{1e3 * neural:>8.2f}")


#: The WNAEs of table 2: label → (shipped config, epochs before the WNAE objective trains).
WNAE_MODELS = {"full-input WNAE": "wnae", "two-stage WNAE head": "two_stage"}


def _wnae_epoch(cfg) -> int:
    """The first epoch that trains the WNAE objective (after the extractor and the AE warm-up)."""
    return cfg.mcmc.pretrain_epochs + (cfg.extractor.epochs if cfg.model == "two_stage" else 0)


def bench_estimators(features: np.ndarray, batch_sizes: list[int], estimators: list[str], exact_max: int,
                     reps: int) -> None:
    from wnae.models.registry import build_model

    print("\n## One WNAE training step per W estimator (train_step: chain + W + update), median")
    print(f"{'model':>20} {'distance':>11} {'batch':>6} {'ms/step':>10} {'events/s':>9} {'solver ms':>10}")
    rng = np.random.default_rng(0)
    for label, model in WNAE_MODELS.items():
        for distance in estimators:
            for batch in batch_sizes:
                if distance in ("emd", "assignment") and batch > exact_max:
                    print(f"{label:>20} {distance:>11} {batch:>6} {'(skipped: --exact-max-batch)':>31}")
                    continue
                cfg = _config(model, batch_size=batch, mcmc={"distance": distance, "buffer_size": max(10_000, batch)})
                fam = build_model(cfg.model, cfg, 0)
                fam.build_optimizer()
                epoch = _wnae_epoch(cfg)
                n_reps = 1 if batch >= 4096 and distance in ("emd", "assignment") else reps
                solver: list[float] = []

                def step() -> None:
                    out = fam.train_step({"features": features[rng.choice(len(features), batch)]}, epoch)  # noqa: B023
                    solver.append(out.get("solver_ms", float("nan")))  # noqa: B023

                step()  # fills the replay buffer past one batch: later steps replay chains as in training
                t = _time(step, n_reps)
                solver_ms = statistics.median(solver[-n_reps:])
                print(f"{label:>20} {distance:>11} {batch:>6} {1e3 * t:>10.1f} {batch / t:>9.0f} {solver_ms:>10.1f}")


def bench_parts(features: np.ndarray, batch: int, reps: int) -> None:
    import tensorflow as tf

    from wnae.models.registry import build_model
    from wnae.models.sampler import langevin_chain

    cfg = _config("wnae", batch_size=batch, mcmc={"distance": "neural"})
    fam = build_model("wnae", cfg, 0)
    m = cfg.mcmc
    x = tf.constant(features[:batch])
    shape = (m.steps, batch, features.shape[1])
    print(f"\n## Parts of the step, full-input WNAE, batch {batch}, milliseconds (median)")
    stateful = tf.function(lambda: fam.noise.normal(shape))
    stateless = tf.function(lambda: tf.random.stateless_normal(shape, seed=fam.noise.make_seeds(1)[:, 0]))
    print(f"Langevin noise {shape}: Generator.normal {1e3 * _time(lambda: stateful().numpy(), reps):.2f}, "
          f"seed + stateless_normal {1e3 * _time(lambda: stateless().numpy(), reps):.2f}")

    def chain(x0):
        return langevin_chain(fam.energy, x0, steps=m.steps, step_size=m.resolved_step_size, noise=m.noise,
                              temperature=m.temperature, bound=m.bound, generator=fam.noise)

    variables = fam.autoencoder.trainable_variables

    def gradient(x_pos, x0):
        with tf.GradientTape() as tape:
            loss = fam.dual.estimate(x_pos, chain(x0))
        return [loss, *tape.gradient(loss, variables)]

    for what, fn in (("chain", chain), ("chain gradient", gradient)):
        args = (x,) if what == "chain" else (x, x)
        graph, xla = tf.function(fn), tf.function(fn, jit_compile=True)
        t_graph = _time(lambda: tf.nest.flatten(graph(*args))[0].numpy(), reps)  # noqa: B023
        t_xla = _time(lambda: tf.nest.flatten(xla(*args))[0].numpy(), reps)  # noqa: B023
        print(f"{what}: graph {1e3 * t_graph:.1f}, XLA {1e3 * t_xla:.1f}")


def _merge(base: dict, overrides: dict) -> dict:
    """``base`` with ``overrides`` merged in, section by section (``mcmc={"distance": ...}`` keeps the rest of mcmc)."""
    out = dict(base)
    for key, value in overrides.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def _config(model: str, **overrides):
    """The shipped ``train_<model>.yml`` with ``overrides`` merged into its sections."""
    import yaml

    from wnae.commands.train import CONFIG_DIR
    from wnae.config import parse_config
    from wnae.models.config import TrainConfig

    raw = yaml.safe_load((CONFIG_DIR / f"train_{model}.yml").read_text())
    return parse_config(TrainConfig, _merge(raw, overrides))


def bench_wnae_shares(features: np.ndarray, batch_sizes: list[int], reps: int, distance: str) -> None:
    import tensorflow as tf

    from wnae.models.registry import build_model

    print(f"\n## Full-input WNAE step breakdown (distance: {distance}), milliseconds per step (median)")
    print(f"{'batch':>6} {'step':>8} {'MCMC':>14} {'W':>14} {'update':>14}")
    for batch in batch_sizes:
        cfg = _config("wnae", batch_size=batch, mcmc={"distance": distance})
        fam = build_model("wnae", cfg, 0)
        x = tf.constant(features[:batch])
        x0 = tf.constant(fam.buffer.sample(batch))

        chain = tf.function(lambda a: fam.negatives(a))  # noqa: B023

        @tf.function
        def chain_emd(p, a):
            neg = fam.negatives(a)
            return fam.objective_loss(p, neg, None, None, "wnae")

        step = fam._step_fn("wnae")
        t_chain = _time(lambda: chain(x0).numpy(), reps)  # noqa: B023
        t_chain_emd = _time(lambda: chain_emd(x, x0).numpy(), reps)  # noqa: B023
        t_step = _time(lambda: step(x, x0)[0].numpy(), reps)  # noqa: B023
        mcmc, emd = t_chain, max(t_chain_emd - t_chain, 0.0)
        update = max(t_step - t_chain_emd, 0.0)
        total = mcmc + emd + update

        def cell(t: float) -> str:
            return f"{1e3 * t:6.1f} ({100 * t / total:3.0f}%)"

        print(f"{batch:>6} {1e3 * t_step:>8.1f} {cell(mcmc):>14} {cell(emd):>14} {cell(update):>14}")


def bench_throughput(data_dir: Path, events, features: np.ndarray, n_batches: int) -> None:
    from wnae.data.preprocess import fit_normaliser
    from wnae.models.registry import build_model
    from wnae.train.data_source import _make_batch

    print(f"\n## Training throughput, shipped configs, {n_batches} batches after warm-up")
    print(f"{'model':>12} {'batch':>6} {'events/s':>10} {'ms/batch':>9}")
    norm = fit_normaliser([events.particles], "fixed_point")
    rng = np.random.default_rng(0)
    for model in ("ae", "vae", "mlp_encoder", "nae", "wnae"):
        cfg = _config(model)
        fam = build_model(model, cfg, 0)
        epoch = cfg.mcmc.pretrain_epochs  # past the AE warm-up: time the real objective
        bs = cfg.batch_size
        index = [rng.choice(len(features), bs, replace=False) for _ in range(n_batches + 1)]
        fam.train_step(_make_batch(fam.batch_kind_at(epoch), events, features, index[0], norm, cfg, rng), epoch)
        t0 = time.perf_counter()
        for idx in index[1:]:
            fam.train_step(_make_batch(fam.batch_kind_at(epoch), events, features, idx, norm, cfg, rng), epoch)
        dt = time.perf_counter() - t0
        print(f"{model:>12} {bs:>6} {n_batches * bs / dt:>10.0f} {1e3 * dt / n_batches:>9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--tables", default="solvers,estimators,parts,shares,models")
    parser.add_argument("--sizes", default="512,2048,4096", help="point-cloud sizes of the solver table")
    parser.add_argument("--batches", default="512,2048,8192", help="batch sizes of the estimator table")
    parser.add_argument("--estimators", default="emd,assignment,sliced,neural")
    parser.add_argument("--exact-max-batch", type=int, default=8192, help="largest batch timed with an exact solver")
    parser.add_argument("--share-batches", default="512,2048", help="batch sizes of the step breakdown")
    parser.add_argument("--share-distance", default="neural", help="W estimator of the step breakdown")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--n-batches", type=int, default=10, help="batches timed per model")
    parser.add_argument("--intra-op-threads", type=int, default=1, help="as threads.intra_op (0: TF's default)")
    parser.add_argument("--inter-op-threads", type=int, default=0, help="as threads.inter_op (0: TF's default)")
    args = parser.parse_args()

    import tensorflow as tf

    from wnae.data.preprocess import fit_normaliser
    from wnae.train.loop import configure_threads, load_sm_split

    configure_threads(args.intra_op_threads, args.inter_op_threads)  # before TensorFlow runs, as wnae train does
    tf.keras.utils.set_random_seed(0)
    data_dir = args.data_dir
    if not (data_dir / "manifest.json").is_file():
        from tests.conftest import write_toy_data_dir

        data_dir = write_toy_data_dir(Path(tempfile.mkdtemp()) / "data", n_background=3000)
        print(f"(no {args.data_dir}/manifest.json: toy data in {data_dir})")
    events = load_sm_split(data_dir, "train")
    features = fit_normaliser([events.particles], "fixed_point").transform(events.particles)
    threading = tf.config.threading
    print(f"{len(features)} SM training events from {data_dir}; TensorFlow threads: "
          f"intra-op {threading.get_intra_op_parallelism_threads() or 'auto'}, "
          f"inter-op {threading.get_inter_op_parallelism_threads() or 'auto'}")
    tables = set(args.tables.split(","))
    batches = [int(b) for b in args.batches.split(",")]
    if "solvers" in tables:
        bench_solvers([int(s) for s in args.sizes.split(",")])
    if "estimators" in tables:
        bench_estimators(features, batches, args.estimators.split(","), args.exact_max_batch, args.reps)
    if "parts" in tables:
        bench_parts(features, 512, args.reps)
    if "shares" in tables:
        bench_wnae_shares(features, [int(b) for b in args.share_batches.split(",")], args.reps, args.share_distance)
    if "models" in tables:
        bench_throughput(data_dir, events, features, args.n_batches)


if __name__ == "__main__":
    main()

"""Training cost on this machine: EMD exact vs sliced, WNAE step breakdown, events/s per model.

    .venv/bin/python benchmarks/bench_training.py [--data-dir data] [--batches 512,1024] [--skip-emd]

Prints three tables (``print`` is fine here: benchmarks are scripts, not library code):

1. One EMD evaluation between two (n, 57) point clouds at n = 256, 512, 1024, 2048: exact
   (``ot.emd2`` on ``ot.dist``, network simplex) vs sliced (``ot.sliced_wasserstein_distance``,
   128 projections), both in numpy, plus the TensorFlow losses used in training
   (:func:`wnae.models.losses.emd_loss`, :func:`~wnae.models.losses.sliced_emd_loss`).
2. Share of one WNAE training step spent in the Langevin MCMC (forward chain), the EMD (plan +
   cost) and the weight update (backward pass through the EMD and the chain + AdamW), from three
   compiled functions timed apart: chain only; chain + loss; the full step.
3. Training throughput (events/s) of each model family with its shipped config
   (``wnae/configs/train_<model>.yml``), on SM training events of ``--data-dir`` (a toy data
   directory in a temporary folder when it has none).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def _time(fn, reps: int) -> float:  # noqa: ANN001
    """Median seconds of ``fn()`` over ``reps`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_emd(sizes: list[int]) -> None:
    import ot
    import tensorflow as tf

    from wnae.models import losses

    rng = np.random.default_rng(0)
    print("\n## One EMD evaluation, (n, 57) vs (n, 57), milliseconds (median)")
    print(f"{'n':>6} {'ot.emd2':>10} {'ot.sliced':>10} {'emd_loss(tf)':>13} {'sliced_loss(tf)':>16} {'exact/sliced':>13}")
    for n in sizes:
        x = rng.normal(size=(n, 57))
        y = rng.normal(size=(n, 57)) * 1.2
        w = np.full(n, 1.0 / n)
        reps = 3 if n >= 1024 else 5
        exact = _time(lambda: ot.emd2(w, w, ot.dist(x, y), numItermax=1_000_000), reps)  # noqa: B023
        sliced = _time(lambda: ot.sliced_wasserstein_distance(x, y, n_projections=128, seed=0), reps)  # noqa: B023
        xt, yt = tf.constant(x, tf.float32), tf.constant(y, tf.float32)
        f_exact = tf.function(losses.emd_loss)
        f_sliced = tf.function(lambda a, b: losses.sliced_emd_loss(a, b, 128))
        tf_exact = _time(lambda: f_exact(xt, yt).numpy(), reps)  # noqa: B023
        tf_sliced = _time(lambda: f_sliced(xt, yt).numpy(), reps)  # noqa: B023
        print(f"{n:>6} {1e3 * exact:>10.1f} {1e3 * sliced:>10.1f} {1e3 * tf_exact:>13.1f} {1e3 * tf_sliced:>16.1f}"
              f" {exact / sliced:>13.1f}")


def _config(model: str, **overrides):  # noqa: ANN003, ANN202
    from wnae.commands.train import CONFIG_DIR
    from wnae.config import load_config
    from wnae.train.config import TrainConfig

    return load_config(CONFIG_DIR / f"train_{model}.yml", TrainConfig, overrides=overrides)


def bench_wnae_shares(features: np.ndarray, batch_sizes: list[int], reps: int) -> None:
    import tensorflow as tf

    from wnae.models.registry import build_model

    print("\n## WNAE step breakdown (shipped config, exact EMD), milliseconds per step (median)")
    print(f"{'batch':>6} {'step':>8} {'MCMC':>14} {'EMD':>14} {'update':>14}")
    for batch in batch_sizes:
        cfg = _config("wnae", batch_size=batch)
        fam = build_model("wnae", cfg, 0)
        x = tf.constant(features[:batch])
        x0 = tf.constant(fam.buffer.sample(batch))

        chain = tf.function(lambda a: fam.negatives(a))  # noqa: B023

        @tf.function
        def chain_emd(p, a):  # noqa: ANN001, ANN202
            neg = fam.negatives(a)
            return fam.objective_loss(p, neg, None, None, "wnae")

        step = fam._step_fn("wnae")  # noqa: SLF001 (benchmark of the real step)
        t_chain = _time(lambda: chain(x0).numpy(), reps)  # noqa: B023
        t_chain_emd = _time(lambda: chain_emd(x, x0).numpy(), reps)  # noqa: B023
        t_step = _time(lambda: step(x, x0)[0].numpy(), reps)  # noqa: B023
        mcmc, emd = t_chain, max(t_chain_emd - t_chain, 0.0)
        update = max(t_step - t_chain_emd, 0.0)
        total = mcmc + emd + update

        def cell(t: float) -> str:
            return f"{1e3 * t:6.1f} ({100 * t / total:3.0f}%)"

        print(f"{batch:>6} {1e3 * t_step:>8.1f} {cell(mcmc):>14} {cell(emd):>14} {cell(update):>14}")


def bench_throughput(data_dir: Path, events, features: np.ndarray, n_batches: int) -> None:  # noqa: ANN001
    from wnae.data.preprocess import fit_normaliser
    from wnae.models.registry import build_model
    from wnae.train.loop import _make_batch  # noqa: PLC2701

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
        fam.train_step(_make_batch(fam, events, features, index[0], norm, cfg, rng), epoch)
        t0 = time.perf_counter()
        for idx in index[1:]:
            fam.train_step(_make_batch(fam, events, features, idx, norm, cfg, rng), epoch)
        dt = time.perf_counter() - t0
        print(f"{model:>12} {bs:>6} {n_batches * bs / dt:>10.0f} {1e3 * dt / n_batches:>9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--sizes", default="256,512,1024,2048", help="EMD point-cloud sizes")
    parser.add_argument("--batches", default="512,1024,2048", help="WNAE batch sizes for the breakdown")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--n-batches", type=int, default=10, help="batches timed per model")
    parser.add_argument("--skip-emd", action="store_true")
    args = parser.parse_args()

    import tensorflow as tf

    from wnae.data.preprocess import fit_normaliser
    from wnae.train.loop import load_sm_split

    tf.keras.utils.set_random_seed(0)
    data_dir = args.data_dir
    if not (data_dir / "manifest.json").is_file():
        from tests.conftest import write_toy_data_dir

        data_dir = write_toy_data_dir(Path(tempfile.mkdtemp()) / "data", n_background=3000)
        print(f"(no {args.data_dir}/manifest.json: toy data in {data_dir})")
    events = load_sm_split(data_dir, "train")
    features = fit_normaliser([events.particles], "fixed_point").transform(events.particles)
    print(f"{len(features)} SM training events from {data_dir}; TensorFlow threads: "
          f"intra {tf.config.threading.get_intra_op_parallelism_threads() or 'auto'}")
    if not args.skip_emd:
        bench_emd([int(s) for s in args.sizes.split(",")])
    bench_wnae_shares(features, [int(b) for b in args.batches.split(",")], args.reps)
    bench_throughput(data_dir, events, features, args.n_batches)


if __name__ == "__main__":
    main()

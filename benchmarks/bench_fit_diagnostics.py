"""Cost of the per-epoch fit diagnostics of an energy-based run (exact W against the two-sample floor).

    .venv/bin/python benchmarks/bench_fit_diagnostics.py [--events 250,1000,2000] [--long-steps 0,200] [--reps 3]

For the default two-stage WNAE's head (``train_two_stage.yml``: 10-d embedding, ReLU-8 head) on a
heavy-tailed 10-d cloud standing in for the embedding, prints the wall time of one
:meth:`~wnae.models.wnae.AutoencoderFamily.epoch_diagnostics` call (fresh chains, ``w_exact``,
``w_exact_long``, ``w_floor`` by the exact linear assignment) per number of events and long-chain steps,
and, for scale, one WNAE training step (batch 512, exact W) of the same head.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from bench_training import _time as _median_seconds  # the benchmarks' timer: median after a warm-up call

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "wnae" / "configs" / "train_two_stage.yml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="250,1000,2000", help="validation events per W sample")
    parser.add_argument("--long-steps", default="0,200", help="further sampler steps for w_exact_long")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()

    from wnae.config import load_config
    from wnae.models.config import TrainConfig
    from wnae.models.registry import build_model
    from wnae.models.two_stage import head_config

    base = load_config(DEFAULT_CONFIG, TrainConfig)
    dim = base.extractor.embedding_dim
    rng = np.random.default_rng(0)
    cloud = (rng.standard_t(df=4, size=(20_000, dim))).astype(np.float32)  # heavy tails, unit-ish spread
    print(f"{'events':>7} {'long steps':>10} {'diagnostics (s)':>16}")
    for events in (int(v) for v in args.events.split(",")):
        for long_steps in (int(v) for v in args.long_steps.split(",")):
            mcmc = base.mcmc.model_copy(update={"diagnostics": base.mcmc.diagnostics.model_copy(
                update={"events": events, "long_steps": long_steps})})
            cfg = head_config(base.model_copy(update={"mcmc": mcmc}))
            fam = build_model(cfg.model, cfg, 0, dim=dim)
            fam.build_optimizer()
            epoch = cfg.mcmc.pretrain_epochs  # a WNAE epoch
            fam.train_step({"features": cloud[:512]}, epoch)  # fills the replay buffer
            fam.buffer.push(cloud[rng.permutation(len(cloud))[:5000]] * 0.8)
            seconds = _median_seconds(lambda fam=fam, epoch=epoch: fam.epoch_diagnostics(cloud, epoch), args.reps)
            print(f"{events:>7} {long_steps:>10} {seconds:>16.3f}")
    step = _median_seconds(lambda: fam.train_step({"features": cloud[:512]}, epoch), args.reps)
    print(f"\none WNAE training step of the same head (batch 512, exact W): {1e3 * step:.1f} ms")


if __name__ == "__main__":
    main()

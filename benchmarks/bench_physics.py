"""Physics over seeds: signal efficiency at the Medium and Tight working points, mean ± spread.

    .venv/bin/python benchmarks/bench_physics.py [--seeds 0,1,2] [--data-dir data] [--runs-dir runs/physics]
        [--models two_stage_wnae=wnae/configs/train_two_stage.yml vicreg_vae=wnae/configs/train_vicreg_vae.yml ...]

Each model (``label=config.yml``) is trained once per seed with ``wnae train --config <config> --seed <s>``
(a finished run of the same name is reused, so an interrupted benchmark continues) and evaluated
with ``wnae evaluate`` (zero-bias-calibrated thresholds: the same code as the CLI). Prints one
markdown table per working point: per signal, the efficiency in % as mean ± standard deviation
over the seeds, and adds every number to ``<runs-dir>/physics.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

DEFAULT_MODELS = {
    "two-stage WNAE": "wnae/configs/train_two_stage.yml",
    "VICReg-VAE": "wnae/configs/train_vicreg_vae.yml",
    "full-input WNAE": "wnae/configs/train_wnae.yml",
    "full-input AE": "wnae/configs/train_ae.yml",
    "MLP encoder": "wnae/configs/train_mlp_encoder.yml",
}
WORKING_POINTS = ("Medium", "Tight")


def run_one(label: str, config: Path, seed: int, data_dir: Path, runs_dir: Path) -> dict:
    """Train (unless finished) and evaluate one model at one seed; its evaluation metrics."""
    from wnae.config import load_config
    from wnae.evaluate.run import evaluate_run
    from wnae.models.config import TrainConfig
    from wnae.train.loop import train

    name = f"{label.replace(' ', '_').replace('-', '_').lower()}-s{seed}"
    run_dir = runs_dir / name
    if not (run_dir / "run.json").is_file():
        cfg = load_config(config, TrainConfig, overrides={"seed": seed})
        resume = (run_dir / "config.yml").is_file()
        train(None if resume else cfg, data_dir=data_dir, runs_dir=runs_dir, name=name, resume=resume, progress=False)
    evaluate_run(run_dir, data_dir=data_dir)
    return json.loads((run_dir / "evaluation" / "metrics.json").read_text())


def summarise(results: dict[str, list[dict]]) -> dict:
    """label → signal → working point → {mean, std, values} of the efficiency (fraction)."""
    out: dict = {}
    for label, runs in results.items():
        for metrics in runs:
            for signal, s in metrics["signals"].items():
                for wp in WORKING_POINTS:
                    cell = out.setdefault(label, {}).setdefault(signal, {}).setdefault(wp, {"values": []})
                    cell["values"].append(s["efficiency"][wp]["value"])
    for signals in out.values():
        for wps in signals.values():
            for cell in wps.values():
                v = cell["values"]
                cell["mean"] = statistics.fmean(v)
                cell["std"] = statistics.stdev(v) if len(v) > 1 else 0.0
    return out


def print_tables(summary: dict, seeds: list[int]) -> None:
    labels = list(summary)
    signals = sorted({s for per in summary.values() for s in per})
    for wp in WORKING_POINTS:
        print(f"\n## ε at the {wp} working point (%), mean ± std over seeds {','.join(map(str, seeds))}")
        print("| signal | " + " | ".join(labels) + " |")
        print("|---|" + "---:|" * len(labels))
        for signal in signals:
            cells = []
            for label in labels:
                c = summary[label].get(signal, {}).get(wp)
                cells.append("n/a" if c is None else f"{100 * c['mean']:.2f} ± {100 * c['std']:.2f}")
            print(f"| {signal} | " + " | ".join(cells) + " |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--data-dir", type=Path, default=Path("data"))
    p.add_argument("--runs-dir", type=Path, default=Path("runs/physics"))
    p.add_argument("--models", nargs="*", help="label=config.yml (default: the two-stage and full-input models)")
    args = p.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    models = dict(m.split("=", 1) for m in args.models) if args.models else DEFAULT_MODELS
    results: dict[str, list[dict]] = {}
    for label, config in models.items():
        for seed in seeds:
            print(f"{label}, seed {seed} ...", flush=True)
            results.setdefault(label, []).append(run_one(label, Path(config), seed, args.data_dir, args.runs_dir))
    summary = summarise(results)
    print_tables(summary, seeds)
    args.runs_dir.mkdir(parents=True, exist_ok=True)
    path = args.runs_dir / "physics.json"
    doc = json.loads(path.read_text()) if path.is_file() else {"models": {}, "summary": {}}
    doc["models"].update(models)  # another set of models in the same runs directory adds to the file
    doc["summary"].update(summary)
    doc["seeds"] = seeds
    path.write_text(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()

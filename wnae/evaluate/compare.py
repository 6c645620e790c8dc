"""Side-by-side comparison of several evaluated runs on the same samples: one table, overlaid curves.

All runs are evaluated with the same :class:`~wnae.evaluate.config.EvaluateConfig`, so the working
points share names and target rates (each run has its own thresholds, since score scales differ).
Each efficiency comes with its Clopper–Pearson interval; each AUC is given against the SM test sample
and against the zero bias.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wnae._io import atomic_path, ensure_dir, write_json_atomic
from wnae.errors import ConfigError
from wnae.evaluate.report import format_interval

if TYPE_CHECKING:
    from wnae.evaluate.evaluation import RunEvaluation

__all__ = ["comparison_doc", "format_comparison", "write_comparison"]


def _label(e: RunEvaluation) -> str:
    return f"{e.run_name} ({e.model})" if e.model else e.run_name


def _winners(values: dict[str, float | None]) -> list[str]:
    """Runs with the highest value; empty when all runs tie (nothing to pick)."""
    known = {r: v for r, v in values.items() if v is not None}
    if not known:
        return []
    top = max(known.values())
    winners = [r for r, v in known.items() if v >= top - 1e-12]
    return [] if len(winners) == len(values) else winners


def comparison_doc(evaluations: Sequence[RunEvaluation]) -> dict[str, Any]:
    """JSON-ready comparison: per signal and run AUC (vs SM test and vs zero bias), TPR at FPR and
    efficiency at each WP with their intervals; the best runs.

    ``efficiency[wp]`` is the value and ``efficiency_interval[wp]`` its ``[low, high]``;
    ``best[signal][metric]`` lists the run(s) with the highest value (empty when all tie).
    """
    if not evaluations:
        msg = "nothing to compare: no evaluated runs"
        raise ConfigError(msg)
    wps = [(wp.name, wp.target_rate_khz) for wp in evaluations[0].working_points]
    signals = sorted({name for e in evaluations for name in e.signals})
    doc: dict[str, Any] = {
        "runs": [
            {
                "run": e.run_name,
                "model": e.model,
                "working_points": {
                    wp.name: {"threshold": wp.threshold, "rate_khz": wp.rate_khz, "resolved": wp.resolved}
                    for wp in e.working_points
                },
            }
            for e in evaluations
        ],
        "working_points_khz": dict(wps),
        "confidence_level": evaluations[0].config.confidence_level,
        "signals": {},
        "best": {},
    }
    for sig in signals:
        per_run: dict[str, dict[str, Any]] = {}
        for e in evaluations:
            s = e.signals.get(sig)
            if s is None:
                continue
            per_run[e.run_name] = {
                "auc": s.roc.auc,
                "auc_zero_bias": s.auc_zero_bias,
                "tpr_at_fpr": s.tpr_at_fpr.tpr,
                "tpr_at_fpr_interval": [s.tpr_at_fpr.tpr_low, s.tpr_at_fpr.tpr_high],
                "efficiency": {name: s.efficiency[name][0] for name, _ in wps if name in s.efficiency},
                "efficiency_interval": {name: list(s.efficiency[name][1:]) for name, _ in wps if name in s.efficiency},
            }
        doc["signals"][sig] = per_run
        best: dict[str, list[str]] = {}
        if per_run:
            best["auc"] = _winners({r: v["auc"] for r, v in per_run.items()})
            best["auc_zero_bias"] = _winners({r: v["auc_zero_bias"] for r, v in per_run.items()})
            for name, _ in wps:
                best[f"efficiency_{name}"] = _winners({r: v["efficiency"].get(name) for r, v in per_run.items()})
        doc["best"][sig] = best
    return doc


def format_comparison(evaluations: Sequence[RunEvaluation]) -> str:
    """Markdown table: one row per signal and run, winners in bold; efficiencies with their intervals."""
    doc = comparison_doc(evaluations)
    wps = list(doc["working_points_khz"].items())
    models = {e.run_name: _label(e) for e in evaluations}
    head = ["signal", "run (model)", "AUC", "AUC (ZB)"] + [f"ε {n} {r:g} kHz (%)" for n, r in wps]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    for sig, per_run in doc["signals"].items():
        best = doc["best"][sig]
        for run, v in per_run.items():
            cells = [sig, models[run]]
            for key in ("auc", "auc_zero_bias"):
                text = "–" if v[key] is None else f"{v[key]:.3f}"
                cells.append(f"**{text}**" if run in best.get(key, []) else text)
            for name, _ in wps:
                eff = v["efficiency"].get(name)
                low, high = v["efficiency_interval"].get(name, (None, None))
                text = format_interval(eff, low, high, scale=100)
                if run in best.get(f"efficiency_{name}", []):
                    text = f"**{text}**"
                cells.append(text)
            lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"ε with its Clopper–Pearson interval at {100 * doc['confidence_level']:.4g} % CL; "
        "AUC (ZB): against the zero bias the rates are calibrated on.",
    ]
    unresolved = sorted({wp.name for e in evaluations for wp in e.working_points if not wp.resolved})
    if unresolved:
        lines += [
            "",
            f"Working points not resolved by the zero-bias statistics: {', '.join(unresolved)} "
            "(see each run's working_points.json).",
        ]
    return "\n".join(lines)


def write_comparison(evaluations: Sequence[RunEvaluation], out_dir: str | Path) -> list[Path]:
    """Write ``comparison.md``, ``comparison.json`` and the overlaid plots into ``out_dir``."""
    from wnae.evaluate.plots import plot_comparison

    out_dir = ensure_dir(out_dir)
    written = []
    md = out_dir / "comparison.md"
    with atomic_path(md) as tmp:
        tmp.write_text("# Comparison\n\n" + format_comparison(evaluations) + "\n")
    written.append(md)
    js = out_dir / "comparison.json"
    write_json_atomic(js, comparison_doc(evaluations))
    written.append(js)
    formats = evaluations[0].config.plot_formats
    if evaluations[0].config.plots:
        for files in plot_comparison(evaluations, out_dir, formats).values():
            written += files
    return written

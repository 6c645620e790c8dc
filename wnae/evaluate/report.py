"""``report.md`` in the run directory and the text tables of ``wnae evaluate``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from wnae._io import atomic_path

if TYPE_CHECKING:
    from wnae.evaluate.evaluation import RunEvaluation

__all__ = ["format_interval", "format_signals", "format_summary", "format_working_points", "write_report"]

REPORT_FILE = "report.md"


def _fmt(value: float | None, spec: str = ".3g") -> str:
    return "–" if value is None else format(value, spec)


def format_interval(
    value: float | None, low: float | None, high: float | None, spec: str = ".3g", scale: float = 1.0
) -> str:
    """``"13.1 [12.5, 13.7]"``: a value and its interval, each times ``scale`` (``"–"`` without a value).

    Example:
        >>> format_interval(0.131, 0.125, 0.137, scale=100)
        '13.1 [12.5, 13.7]'
    """
    if value is None:
        return "–"
    text = format(scale * value, spec)
    if low is None or high is None:
        return text
    return f"{text} [{format(scale * low, spec)}, {format(scale * high, spec)}]"


def format_working_points(evaluation: RunEvaluation) -> str:
    """Markdown table of the working points: target, threshold ± uncertainty, measured rate, status."""
    lines = [
        "| WP | target (kHz) | threshold | ± | ZB events > t (effective) | rate (kHz) [CL interval] | "
        f"{evaluation.reference} eff. | status |",
        "|---|---:|---:|---:|---:|---|---:|---|",
    ]
    for wp in evaluation.working_points:
        status = "resolved" if wp.resolved else f"**{wp.method}**, below {evaluation.config.min_zb_events} ZB events"
        lines.append(
            f"| {wp.name} | {wp.target_rate_khz:g} | {wp.threshold:.5g} | {wp.threshold_uncertainty:.2g} | "
            f"{wp.n_zb_above} / {wp.n_zb} ({wp.n_zb_effective_above:.0f}) | "
            f"{wp.rate_khz:.3g} [{wp.rate_low_khz:.3g}, {wp.rate_high_khz:.3g}] | "
            f"{evaluation.sm_rate_at_wp[wp.name]:.2e} | {status} |"
        )
    return "\n".join(lines)


def format_signals(evaluation: RunEvaluation) -> str:
    """Markdown table per signal: AUC vs SM test and vs zero bias, TPR at the target FPR and efficiency
    at each WP with their Clopper–Pearson intervals, S/B at each WP."""
    wps = [wp.name for wp in evaluation.working_points]
    fpr = f"{evaluation.config.target_fpr:.0e}"
    ref = evaluation.reference
    head = ["signal", f"AUC ({ref})", "AUC (ZB)", f"TPR@FPR={fpr} ({ref})", f"TPR@FPR={fpr} (ZB)"]
    head += [f"ε {w} (%)" for w in wps] + [f"S/B {w}" for w in wps]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    if not evaluation.signals:
        return "No signal samples in the data: working points and rates only."
    for name, s in evaluation.signals.items():
        t = s.tpr_at_fpr
        tpr = format_interval(t.tpr, t.tpr_low, t.tpr_high) if t.reachable else "n/a*"
        zb = s.tpr_at_zb_fpr
        zb_tpr = format_interval(zb.tpr, zb.tpr_low, zb.tpr_high) if zb is not None and zb.reachable else "n/a"
        row = [name, f"{s.roc.auc:.3f}", _fmt(s.auc_zero_bias, ".3f"), tpr, zb_tpr]
        row += [format_interval(*s.efficiency[w], scale=100) for w in wps]
        row += [_fmt(s.purity[w]) for w in wps]
        lines.append("| " + " | ".join(row) + " |")
    zb_kind = "weighted zero bias" if evaluation.curve.weighted else "unbiased zero bias"
    lines += [
        "",
        f"[low, high]: Clopper–Pearson intervals at {100 * evaluation.config.confidence_level:.4g} % CL "
        f"(ε: events above threshold of S0; TPR: of the stored events). AUC (ZB): against the {zb_kind}.",
    ]
    unreachable = [s.tpr_at_fpr for s in evaluation.signals.values() if not s.tpr_at_fpr.reachable]
    if unreachable:
        lines.append("")
        lines.append(f"\\* {unreachable[0].message}.")
    return "\n".join(lines)


def format_summary(evaluation: RunEvaluation) -> str:
    """The text written to stdout for one run."""
    cfg = evaluation.config
    curve = evaluation.curve
    if curve.weighted:
        zb = (
            f"weighted zero bias: {curve.n_zb} events ({curve.n_effective:.0f} effective) from "
            f"{len(evaluation.zero_bias.components) if evaluation.zero_bias else '?'} samples"
        )
    else:
        zb = f"{curve.n_zb} zero-bias events (1 event = {curve.rate_per_event_khz:.3g} kHz)"
    return "\n".join(
        [
            f"## {evaluation.run_name}" + (f" ({evaluation.model})" if evaluation.model else ""),
            "",
            f"Input rate R0 = {cfg.input_rate_khz:g} kHz; {zb}; {evaluation.sm_test_events} {evaluation.reference} events; "
            f"ε = S(t)/S0 with S0 before pre-selection; S/B with {cfg.weighting} weights.",
            "",
            format_working_points(evaluation),
            "",
            format_signals(evaluation),
        ]
    )


def write_report(evaluation: RunEvaluation, run_dir: str | Path, plots: Mapping[str, Sequence[Path]]) -> Path:
    """Write ``<run_dir>/report.md`` with the tables and links to the PNG plots."""
    run_dir = Path(run_dir)
    titles = {
        "scores": "Score distributions",
        "rate_vs_threshold": "Rate vs threshold",
        "efficiency_vs_rate": "Signal efficiency vs rate",
        "roc": f"ROC against the {evaluation.reference} sample",
        "latent_pca": "Latent space (PCA)",
        "latent_tsne": "Latent space (t-SNE)",
        "loss": "Training history",
    }
    parts = [
        f"# Evaluation of `{evaluation.run_name}`",
        "",
        "Working points are in `working_points.json` (score > threshold fires), all numbers in "
        "`evaluation/metrics.json`.",
        "",
        format_summary(evaluation).split("\n", 2)[2],
        "",
    ]
    if plots:
        parts.append("## Plots")
        parts.append("")
    for key, files in plots.items():
        png = [p for p in files if p.suffix == ".png"] or list(files)
        if not png:
            continue
        rel = png[0].relative_to(run_dir).as_posix()
        others = ", ".join(
            f"[{p.suffix[1:].upper()}]({p.relative_to(run_dir).as_posix()})" for p in files if p != png[0]
        )
        parts += [f"### {titles.get(key, key)}", "", f"![{key}]({rel})" + (f" ({others})" if others else ""), ""]
    path = run_dir / REPORT_FILE
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(parts))
    return path

"""The two-level report: ``metrics.json``, ``report.md`` and plots (efficiency and purity vs rate, t-SNE)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from wnae._io import atomic_path, ensure_dir, write_json_atomic
from wnae.data.samples import SampleRole
from wnae.hlt.evaluate import TwoLevelEvaluation

__all__ = ["plot_two_level", "report_markdown", "write_two_level"]

logger = logging.getLogger(__name__)
FORMATS = ("png", "pdf")
RATE_LABEL = "output rate (kHz)"


def _fmt(v: float | None, digits: int = 3) -> str:
    return "B = 0" if v is None else f"{v:.{digits}g}"


def _path_line(path: dict[str, Any]) -> str:
    """The HLT path's cuts on the two scores themselves (what a trigger menu runs)."""
    hlt = "no HLT score" if path["hlt_score_above"] is None else f"HLT score > {path['hlt_score_above']:.6g}"
    if "l1_score_above" in path["rule"]:
        l1 = "no L1 score" if path["l1_score_above"] is None else f"L1 score > {path['l1_score_above']:.6g}"
        return f"- **As the path runs it**: L1 score > {path['l1_seed_above']:.6g} (seed), then {l1} or {hlt}."
    return f"- **As the path runs it**: L1 score > {path['l1_seed_above']:.6g} (seed), then {hlt}."


def report_markdown(ev: TwoLevelEvaluation) -> str:
    """The human-readable report of one two-level evaluation."""
    d = ev.to_dict()
    seed, wp = d["l1_seed"], ev.working_point
    zb = d["zero_bias"]
    lines = [
        f"# Two-level trigger: L1 `{ev.l1_run}` ({seed['working_point']}) → HLT `{ev.hlt_run}`",
        "",
        f"- Input rate R0 = {ev.trigger.input_rate_khz:,.1f} kHz; zero bias {'weighted' if zb['weighted'] else 'unbiased'}: "
        f"{zb['n_events']:,} events ({zb['n_effective']:,.0f} effective).",
        f"- **L1 seed** {seed['working_point']}: L1 score > {seed['threshold']:.4g}, "
        f"R_L1 = {seed['rate_khz']:.3g} kHz [{seed['rate_low_khz']:.3g}, {seed['rate_high_khz']:.3g}], "
        f"{seed['n_zb_seeded']:,} ZB events ({seed['n_zb_seeded_effective']:.1f} effective).",
        f"- **HLT** at {ev.config.hlt_rate_khz:g} kHz: score > {wp.threshold:.4g} "
        f"[{wp.threshold_low:.4g}, {wp.threshold_high:.4g}], R = {wp.rate_khz:.3g} kHz "
        f"[{wp.rate_low_khz:.3g}, {wp.rate_high_khz:.3g}] from {wp.n_zb_effective_above:.1f} effective ZB events "
        f"({'resolved' if wp.resolved else 'NOT resolved: fewer than 10 effective events'}); the HLT keeps "
        f"{d['hlt_fraction_of_seed']:.3f} of the seeded crossings.",
        _path_line(d["hlt_path"]),
        f"- Efficiency S(t)/S0 with S0 counted before the L1 seed; purity S/B against the {ev.sm_test_events:,} "
        "SM test events behind the same seed.",
        "",
        f"| sample | L1 seed alone | two-level at {ev.config.hlt_rate_khz:g} kHz [68 % CL] | "
        + " | ".join(f"raw L1 {k} ({r:.3g} kHz)" for k, r in ev.l1_rate_points_khz.items())
        + " |",
        "|---|---:|---:|" + "---:|" * len(ev.l1_rate_points_khz),
    ]
    for name, s in ev.signals.items():
        eff, lo, hi = s.efficiency
        raw = " | ".join(f"{e:.4f}" for _, e in s.raw_l1.values())
        lines.append(
            f"| {name}{' (unseen SM)' if s.role == SampleRole.UNSEEN_SM.value else ''} | "
            f"{s.seed_efficiency:.4f} | {eff:.4f} [{lo:.4f}, {hi:.4f}] | {raw} |"
        )
    points = ev.rate_points
    header = [
        f"{r:g} kHz ({ev.rate_point_wps[r].n_zb_effective_above:.0f} ZB{'' if ev.rate_point_wps[r].resolved else '*'})"
        for r in points
    ]
    lines += [
        "",
        "Efficiency / purity S/B (equal weights) / S/B (cross-section weights) along the HLT rate "
        "(in brackets: the effective ZB events above the threshold; * fewer than 10, the threshold is not "
        "resolved):",
        "",
        "| sample | " + " | ".join(header) + " |",
        "|---|" + "---:|" * len(points),
    ]
    for name, s in ev.signals.items():
        cells = [
            f"{s.efficiency_at[r]:.4f} / {_fmt(s.purity.get(r))} / {_fmt(s.purity_cross_section.get(r))}"
            for r in points
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "The L1 run alone at the same rates (its own threshold for each):",
        "",
        "| sample | " + " | ".join(f"{r:g} kHz" for r in points) + " |",
        "|---|" + "---:|" * len(points),
    ]
    for name, s in ev.signals.items():
        lines.append(f"| {name} | " + " | ".join(f"{s.raw_l1_at[r]:.4f}" for r in points) + " |")
    lines += [
        "",
        "Plots: `plots/efficiency_vs_rate`, `plots/purity_vs_rate`, `plots/latent_tsne`, `plots/hlt_scores`.",
        "",
    ]
    return "\n".join(lines)


def _plot_efficiency(ev: TwoLevelEvaluation, plt: Any, out: Path) -> list[Path]:
    from wnae.evaluate.plots import save_figure

    fig, ax = plt.subplots(figsize=(7, 5))
    for i, (name, s) in enumerate(ev.signals.items()):
        colour = f"C{i % 10}"
        ax.plot(s.curve_rate_khz, s.curve_efficiency, color=colour, label=f"{name}: L1 {ev.seed.name} + HLT")
        raw = np.array(list(s.raw_l1.values()))
        ax.plot(raw[:, 0], raw[:, 1], "o", color=colour, mfc="none", ms=6)
    ax.axvline(ev.config.hlt_rate_khz, color="grey", ls=":", lw=1)
    ax.plot([], [], "o", color="k", mfc="none", label="raw L1 working points (alone)")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel=RATE_LABEL,
        ylabel="signal efficiency S(t)/S0",
        title=f"{ev.hlt_run} behind {ev.l1_run} {ev.seed.name} ({ev.trigger.l1_rate_khz:.3g} kHz)",
    )
    ax.set_ylim(bottom=1e-4)
    ax.legend(fontsize=6, ncol=2)
    return save_figure(fig, out, "efficiency_vs_rate", FORMATS)


def _plot_purity(ev: TwoLevelEvaluation, plt: Any, out: Path) -> list[Path]:
    from wnae.evaluate.plots import save_figure

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, key, title in (
        (axes[0], "purity_curve", "equal weights"),
        (axes[1], "purity_cross_section_curve", "cross-section weights"),
    ):
        for i, (name, s) in enumerate(ev.signals.items()):
            curve = getattr(s, key)
            if curve is None or s.role != SampleRole.SIGNAL.value:
                continue
            assert s.curve_rate_khz is not None  # set with the purity curves (two_level_from_scores)
            ok = np.isfinite(curve) & (curve > 0)
            ax.plot(s.curve_rate_khz[ok], curve[ok], color=f"C{i % 10}", label=name)
        ax.axvline(ev.config.hlt_rate_khz, color="grey", ls=":", lw=1)
        ax.set(xscale="log", yscale="log", xlabel=RATE_LABEL, ylabel="purity S/B", title=f"S/B vs rate, {title}")
        ax.legend(fontsize=6)
    return save_figure(fig, out, "purity_vs_rate", FORMATS)


def _plot_scores(ev: TwoLevelEvaluation, plt: Any, out: Path) -> list[Path]:
    from wnae.evaluate.plots import save_figure

    t = ev.trigger
    seeded = np.asarray(t.zb_hlt)[t.seeded]
    w = None if t.zb_weights is None else np.asarray(t.zb_weights)[t.seeded]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    hi = float(np.quantile(np.concatenate([seeded, *[ev.hlt_scores.samples[n].scores for n in ev.signals]]), 0.995))
    bins = np.linspace(float(seeded.min()), hi, 60)
    ax.hist(
        seeded,
        bins=bins,
        weights=w,
        density=True,
        histtype="stepfilled",
        alpha=0.3,
        color="k",
        label="zero bias passing L1 (weighted)",
    )
    for i, name in enumerate(ev.signals):
        scores = ev.hlt_scores.samples[name].scores
        ax.hist(scores, bins=bins, density=True, histtype="step", color=f"C{i % 10}", label=name)
    ax.axvline(ev.working_point.threshold, color="r", ls="--", label=f"HLT threshold ({ev.config.hlt_rate_khz:g} kHz)")
    ax.set(yscale="log", xlabel="HLT anomaly score −log p(z)", ylabel="density")
    ax.legend(fontsize=6)
    return save_figure(fig, out, "hlt_scores", FORMATS)


def _plot_tsne(ev: TwoLevelEvaluation, plt: Any, out: Path, seed: int = 0) -> list[Path]:
    from sklearn.manifold import TSNE

    from wnae.evaluate.plots import save_figure

    zb = ev.hlt_scores.zero_bias.name  # the unbiased zero bias stands for all of it (not its pT-hat slices)
    groups = [
        (s.name, s.role, s.latent)
        for s in ev.hlt_scores.samples.values()
        if s.latent is not None and (s.role is not SampleRole.ZERO_BIAS or s.name == zb)
    ]
    if not groups:
        return []
    x = np.concatenate([g[2] for g in groups])
    if len(x) < 10:
        return []
    emb = TSNE(n_components=2, perplexity=min(30.0, (len(x) - 1) / 3), init="pca", random_state=seed).fit_transform(x)
    fig, ax = plt.subplots(figsize=(7, 6))
    start = 0
    markers = {SampleRole.BACKGROUND: "o", SampleRole.ZERO_BIAS: ".", SampleRole.UNSEEN_SM: "s", SampleRole.SIGNAL: "^"}
    for i, (name, role, lat) in enumerate(groups):
        sel = slice(start, start + len(lat))
        start += len(lat)
        label = f"{name} ({'SM' if role is SampleRole.BACKGROUND else role.value})"
        colour = "0.6" if role is SampleRole.ZERO_BIAS else plt.get_cmap("tab20")(i % 20)
        ax.scatter(emb[sel, 0], emb[sel, 1], s=4, alpha=0.6, marker=markers.get(role, "o"), color=colour, label=label)
    ax.set(xlabel="t-SNE 1", ylabel="t-SNE 2", title=f"{ev.hlt_run}: latent space (t-SNE)")
    ax.legend(fontsize=6, markerscale=3, ncol=2)
    return save_figure(fig, out, "latent_tsne", FORMATS)


def plot_two_level(ev: TwoLevelEvaluation, out_dir: str | Path) -> list[Path]:
    """All plots of the report into ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = ensure_dir(out_dir)
    paths = _plot_efficiency(ev, plt, out) + _plot_purity(ev, plt, out) + _plot_scores(ev, plt, out)
    return paths + _plot_tsne(ev, plt, out)


def write_two_level(ev: TwoLevelEvaluation, out_dir: str | Path, *, plots: bool = True) -> dict[str, Any]:
    """Write ``metrics.json``, ``report.md`` and ``plots/`` into ``out_dir``; returns the metrics."""
    out = ensure_dir(out_dir)
    doc = ev.to_dict()
    write_json_atomic(out / "metrics.json", doc)
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(report_markdown(ev))
    if plots:
        plot_two_level(ev, out / "plots")
    logger.info("two-level report written to %s", out)
    return doc

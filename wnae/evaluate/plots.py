"""Evaluation plots (matplotlib, Agg backend), each written in every configured format (PNG + PDF).

Per run: score distributions, rate vs threshold with the working points, efficiency vs rate per
signal, ROC, latent-space map (PCA and t-SNE of a subsample) for latent models, loss curves.
For several runs: overlaid efficiency-vs-rate and ROC curves per signal.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from wnae._io import atomic_path, ensure_dir
from wnae.data.samples import SampleRole

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from wnae.evaluate.evaluation import RunEvaluation
    from wnae.evaluate.rates import RateCurve

__all__ = [
    "efficiency_vs_rate",
    "plot_comparison",
    "plot_efficiency_vs_rate",
    "plot_latent",
    "plot_loss",
    "plot_rate_vs_threshold",
    "plot_roc",
    "plot_run",
    "plot_scores",
    "save_figure",
]

logger = logging.getLogger(__name__)

SCORE_LABEL = "anomaly score (a.u.)"
RATE_LABEL = "trigger rate R (kHz)"
WP_COLOURS = ("tab:green", "tab:orange", "tab:red", "tab:purple", "tab:brown", "tab:pink")


def save_figure(fig: Figure, out_dir: Path, stem: str, formats: Sequence[str]) -> list[Path]:
    """Write ``fig`` as ``out_dir/<stem>.<fmt>`` for each format (atomically) and close it."""
    ensure_dir(out_dir)
    paths = []
    for fmt in formats:
        path = out_dir / f"{stem}.{fmt}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=120, bbox_inches="tight")
        paths.append(path)
    plt.close(fig)
    return paths


def efficiency_vs_rate(
    curve: RateCurve, signal_scores: np.ndarray, n_generated: int, n_points: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """Signal efficiency :math:`S(t)/S_0` against the ZB rate :math:`R(t)` on a threshold scan.

    Thresholds are spread log-uniformly in rate, from the whole input rate down to one (effective)
    ZB event.

    Returns:
        ``(rate_khz, efficiency)``, float (n,) each, rate descending.
    """
    if curve.weighted:
        assert curve.zb_weights is not None  # weighted means it has them
        top = float(curve.zb_weights[-1])  # the highest-scoring event's share of crossings
        fractions = np.geomspace(max(top, 1e-12), 1.0, n_points)
        thresholds = np.array([curve.threshold_at_fraction(f) for f in fractions])
    else:
        n = curve.n_zb
        counts = np.unique(np.geomspace(1, n, n_points).round())
        thresholds = np.array([curve.threshold_at_count(k) for k in counts])
    rate = curve.rate_khz(thresholds)
    sig = np.sort(np.asarray(signal_scores, float))
    eff = (len(sig) - np.searchsorted(sig, thresholds, side="right")) / n_generated
    order = np.argsort(-rate)
    return rate[order], eff[order]


def plot_scores(evaluation: RunEvaluation, out_dir: Path, formats: Sequence[str]) -> list[Path]:
    """Normalised score distributions of SM test, zero bias and each signal, WP thresholds marked."""
    scores = evaluation.scores
    groups: list[tuple[str, np.ndarray]] = [("SM test", scores.sm_test)] if len(scores.sm_test) else []
    groups.append(("zero bias", scores.zero_bias.scores))
    groups += [(s.name, s.scores) for s in scores.signals if len(s.scores)]
    everything = np.concatenate([g[1] for g in groups if len(g[1])])
    lo, hi = np.percentile(everything, [0.0, 99.99])
    if hi <= lo:
        hi = lo + 1.0
    bins = np.linspace(lo, hi, 80)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, values in groups:
        ax.hist(
            np.clip(values, lo, hi),
            bins=bins,
            histtype="step",
            density=True,
            label=f"{label} ({len(values)})",
            linewidth=2 if label in ("SM test", "zero bias") else 1.2,
        )
    for colour, wp in zip(WP_COLOURS, evaluation.working_points, strict=False):
        ax.axvline(
            wp.threshold, color=colour, linestyle="--", linewidth=1, label=f"{wp.name} ({wp.target_rate_khz:g} kHz)"
        )
    ax.set_yscale("log")
    ax.set_xlabel(SCORE_LABEL)
    ax.set_ylabel("events / bin width (normalised)")
    ax.set_title(f"{evaluation.run_name}: score distributions")
    ax.legend(fontsize=7, ncol=2)
    return save_figure(fig, out_dir, "scores", formats)


def plot_rate_vs_threshold(evaluation: RunEvaluation, out_dir: Path, formats: Sequence[str]) -> list[Path]:
    """:math:`R(t)` on zero bias with its Clopper–Pearson band; working points and counting floor marked."""
    curve = evaluation.curve
    t = np.unique(curve.zb_scores)
    t = t[:: max(1, len(t) // 2000)]
    rate = curve.rate_khz(t)
    lo, hi = curve.rate_interval_khz(t, evaluation.config.confidence_level)
    keep = rate > 0
    fig, ax = plt.subplots(figsize=(7, 4.5))
    label = "weighted zero bias R(t)" if curve.weighted else "zero bias R(t)"
    ax.plot(t[keep], rate[keep], color="black", label=label)
    ax.fill_between(
        t[keep],
        lo[keep],
        hi[keep],
        color="grey",
        alpha=0.3,
        label=f"Clopper–Pearson {evaluation.config.confidence_level:.0%}"
        + (" (effective counts)" if curve.weighted else ""),
    )
    floor_curve = evaluation.curve_unbiased or curve
    if evaluation.curve_unbiased is not None:
        u = evaluation.curve_unbiased
        tu = np.unique(u.zb_scores)[:: max(1, u.n_zb // 2000)]
        ru = u.rate_khz(tu)
        ax.plot(
            tu[ru > 0],
            ru[ru > 0],
            color="tab:red",
            linestyle="--",
            linewidth=1,
            label=f"unbiased zero bias alone ({u.n_zb} events)",
        )
    ax.axhline(
        floor_curve.rate_per_event_khz,
        color="grey",
        linestyle=":",
        label=f"1 unbiased ZB event = {floor_curve.rate_per_event_khz:.3g} kHz",
    )
    for colour, wp in zip(WP_COLOURS, evaluation.working_points, strict=False):
        ax.axhline(wp.target_rate_khz, color=colour, linestyle="--", linewidth=0.8)
        ax.errorbar(
            [wp.threshold],
            [wp.target_rate_khz],
            xerr=[[wp.threshold - wp.threshold_low], [wp.threshold_high - wp.threshold]],
            fmt="o",
            color=colour,
            capsize=3,
            label=f"{wp.name}: {wp.target_rate_khz:g} kHz, t = {wp.threshold:.4g}"
            + ("" if wp.resolved else f" ({wp.method})"),
        )
    ax.set_yscale("log")
    ax.set_xlabel(SCORE_LABEL + " threshold t")
    ax.set_ylabel(RATE_LABEL)
    ax.set_title(f"{evaluation.run_name}: rate vs threshold (R0 = {curve.input_rate_khz:g} kHz)")
    ax.legend(fontsize=7)
    return save_figure(fig, out_dir, "rate_vs_threshold", formats)


def plot_efficiency_vs_rate(evaluation: RunEvaluation, out_dir: Path, formats: Sequence[str]) -> list[Path]:
    """Signal efficiency :math:`S(t)/S_0` vs rate for every signal; working points with their intervals."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for sig in evaluation.scores.signals:
        if len(sig.scores) == 0:
            continue
        rate, eff = efficiency_vs_rate(evaluation.curve, sig.scores, int(sig.info.n_generated))
        (line,) = ax.plot(rate, eff, label=sig.name)
        result = evaluation.signals.get(sig.name)
        if result is not None:  # the working points themselves (also those extrapolated below 1 ZB event)
            wp_rate = [wp.target_rate_khz for wp in evaluation.working_points]
            eff, low, high = (
                np.array([result.efficiency[wp.name][i] for wp in evaluation.working_points]) for i in range(3)
            )
            ax.errorbar(
                wp_rate, eff, yerr=[eff - low, high - eff], fmt="o", color=line.get_color(), markersize=4, capsize=2
            )  # Clopper–Pearson
    _mark_wp_rates(ax, evaluation)
    floor_curve = evaluation.curve_unbiased or evaluation.curve
    ax.axvline(
        floor_curve.rate_per_event_khz,
        color="grey",
        linestyle=":",
        label=f"1 unbiased ZB event = {floor_curve.rate_per_event_khz:.3g} kHz",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(RATE_LABEL)
    ax.set_ylabel("signal efficiency S(t)/S0")
    ax.set_title(f"{evaluation.run_name}: efficiency vs rate")
    ax.legend(fontsize=7)
    return save_figure(fig, out_dir, "efficiency_vs_rate", formats)


def _mark_wp_rates(ax: Any, evaluation: RunEvaluation) -> None:
    for colour, wp in zip(WP_COLOURS, evaluation.working_points, strict=False):
        ax.axvline(
            wp.target_rate_khz,
            color=colour,
            linestyle="--",
            linewidth=0.8,
            label=f"{wp.name} {wp.target_rate_khz:g} kHz",
        )


def plot_roc(evaluation: RunEvaluation, out_dir: Path, formats: Sequence[str]) -> list[Path]:
    """ROC (signal vs SM test) per signal, log FPR; target FPR and the sample's FPR floor marked."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, result in evaluation.signals.items():
        keep = result.roc.fpr > 0
        ax.plot(result.roc.fpr[keep], result.roc.tpr[keep], label=f"{name} (AUC {result.roc.auc:.3f})")
    ax.plot([1e-6, 1], [1e-6, 1], color="grey", linestyle=":", linewidth=0.8, label="random")
    ax.axvline(
        evaluation.config.target_fpr,
        color="black",
        linestyle="--",
        linewidth=0.8,
        label=f"FPR = {evaluation.config.target_fpr:.0e}",
    )
    ax.axvline(
        1 / evaluation.sm_test_events,
        color="grey",
        linestyle="-.",
        linewidth=0.8,
        label=f"1 {evaluation.reference} event ({evaluation.sm_test_events})",
    )
    ax.set_xscale("log")
    ax.set_xlim(min(evaluation.config.target_fpr, 1 / evaluation.sm_test_events) / 2, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"false-positive rate on {evaluation.reference} (fraction)")
    ax.set_ylabel("true-positive rate (signal fraction)")
    ax.set_title(f"{evaluation.run_name}: ROC")
    ax.legend(fontsize=7)
    return save_figure(fig, out_dir, "roc", formats)


def plot_latent(
    evaluation: RunEvaluation, out_dir: Path, formats: Sequence[str], *, tsne: bool = True, seed: int = 0
) -> list[Path]:
    """PCA (and t-SNE) of the latent coordinates of a subsample: SM test, zero bias, signals."""
    from sklearn.decomposition import PCA

    groups = [(s.name, s.latent) for s in evaluation.scores.samples.values() if s.latent is not None]
    if not groups:
        return []
    sm_parts = [lat for name, lat in groups if evaluation.scores.samples[name].role is SampleRole.BACKGROUND]
    labelled: list[tuple[str, np.ndarray]] = []
    if sm_parts:
        labelled.append(("SM test", np.concatenate(sm_parts)))
    labelled += [(n, lat) for n, lat in groups if evaluation.scores.samples[n].role is not SampleRole.BACKGROUND]
    x = np.concatenate([lat for _, lat in labelled])
    x = x.reshape(len(x), -1)
    owners = np.concatenate([np.full(len(lat), i) for i, (_, lat) in enumerate(labelled)])
    paths = []
    methods: list[tuple[str, str]] = [("pca", "PCA")] + ([("tsne", "t-SNE")] if tsne and len(x) > 5 else [])
    for stem, title in methods:
        if x.shape[1] == 1:
            emb = np.column_stack([x[:, 0], np.zeros(len(x))])
        elif stem == "pca":
            emb = PCA(n_components=2, random_state=seed).fit_transform(x)
        else:
            from sklearn.manifold import TSNE

            emb = TSNE(
                n_components=2, perplexity=min(30.0, (len(x) - 1) / 3), init="pca", random_state=seed
            ).fit_transform(x)
        fig, ax = plt.subplots(figsize=(6, 5))
        for i, (name, _) in enumerate(labelled):
            sel = owners == i
            ax.scatter(emb[sel, 0], emb[sel, 1], s=3, alpha=0.5, label=f"{name} ({int(sel.sum())})")
        ax.set_xlabel(f"{title} 1 (latent units)")
        ax.set_ylabel(f"{title} 2 (latent units)")
        ax.set_title(f"{evaluation.run_name}: latent space, {title}")
        ax.legend(fontsize=7, markerscale=3)
        paths += save_figure(fig, out_dir, f"latent_{stem}", formats)
    return paths


def plot_loss(history_path: Path, out_dir: Path, formats: Sequence[str], *, title: str = "") -> list[Path]:
    """Per-epoch curves of a Keras-History-like ``history.json`` ({"loss": [...], "val_loss": [...]}).

    The file is read by :func:`wnae.models.run_files.read_history`; a bad one (not JSON, not an
    object of per-epoch number lists) is one warning naming it and what is wrong, and no loss plot.
    """
    from wnae.errors import ModelError
    from wnae.models.run_files import read_history

    try:
        history = read_history(history_path)
    except ModelError as err:
        logger.warning("%s; no loss plot", err)
        return []
    series = {k: np.asarray(v, float) for k, v in history.items() if v and np.isfinite(v).all()}
    if not series:
        return []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, values in sorted(series.items()):
        ax.plot(np.arange(1, len(values) + 1), values, label=key, linestyle="--" if key.startswith("val_") else "-")
    if all((v > 0).all() for v in series.values()):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (model units)")
    ax.set_title(f"{title}: training history" if title else "training history")
    ax.legend(fontsize=7)
    return save_figure(fig, out_dir, "loss", formats)


def plot_run(
    evaluation: RunEvaluation, out_dir: str | Path, *, run_dir: str | Path | None = None
) -> dict[str, list[Path]]:
    """Every per-run plot; returns plot name → files written."""
    out_dir = Path(out_dir)
    cfg = evaluation.config
    formats = cfg.plot_formats
    plots = {
        "scores": plot_scores(evaluation, out_dir, formats),
        "rate_vs_threshold": plot_rate_vs_threshold(evaluation, out_dir, formats),
    }
    if evaluation.signals:  # data without signals: rates and working points only
        plots["efficiency_vs_rate"] = plot_efficiency_vs_rate(evaluation, out_dir, formats)
        plots["roc"] = plot_roc(evaluation, out_dir, formats)
    latent = plot_latent(evaluation, out_dir, formats, tsne=cfg.tsne, seed=cfg.seed)
    for stem in ("pca", "tsne"):
        files = [p for p in latent if p.stem == f"latent_{stem}"]
        if files:
            plots[f"latent_{stem}"] = files
    if run_dir is not None and (Path(run_dir) / "history.json").exists():
        loss = plot_loss(Path(run_dir) / "history.json", out_dir, formats, title=evaluation.run_name)
        if loss:
            plots["loss"] = loss
    return plots


def plot_comparison(
    evaluations: Sequence[RunEvaluation], out_dir: str | Path, formats: Sequence[str] = ("png", "pdf")
) -> dict[str, list[Path]]:
    """Overlaid efficiency-vs-rate and ROC curves of several runs, one panel per signal."""
    out_dir = Path(out_dir)
    names = sorted({name for e in evaluations for name in e.signals})
    if not names:
        return {}
    ncol = min(3, len(names))
    nrow = -(-len(names) // ncol)
    plots = {}
    for kind in ("efficiency_vs_rate", "roc"):
        fig, axes = plt.subplots(nrow, ncol, figsize=(4.5 * ncol, 3.6 * nrow), squeeze=False)
        for ax, name in zip(axes.flat, names, strict=False):
            for e in evaluations:
                if name not in e.signals:
                    continue
                label = f"{e.run_name} ({e.model})" if e.model else e.run_name
                if kind == "roc":
                    r = e.signals[name].roc
                    keep = r.fpr > 0
                    ax.plot(r.fpr[keep], r.tpr[keep], label=f"{label}, AUC {r.auc:.3f}")
                else:
                    sig = e.scores.samples[name]
                    rate, eff = efficiency_vs_rate(e.curve, sig.scores, int(sig.info.n_generated))
                    ax.plot(rate, eff, label=label)
            ax.set_xscale("log")
            ax.set_title(name, fontsize=9)
            if kind == "roc":
                ax.set_xlabel("FPR on SM test (fraction)")
                ax.set_ylabel("TPR (signal fraction)")
            else:
                ax.set_yscale("log")
                ax.set_xlabel(RATE_LABEL)
                ax.set_ylabel("S(t)/S0")
                for colour, wp in zip(WP_COLOURS, evaluations[0].working_points, strict=False):
                    ax.axvline(wp.target_rate_khz, color=colour, linestyle="--", linewidth=0.7)
            ax.legend(fontsize=6)
        for ax in list(axes.flat)[len(names) :]:
            ax.set_visible(False)
        fig.tight_layout()
        plots[kind] = save_figure(fig, out_dir, f"compare_{kind}", formats)
    return plots

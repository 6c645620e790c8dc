"""Per-sample summaries and sanity plots of event files (``wnae data summary``): the L1 objects, and the
PF candidates where the file has them (multiplicities per class, spectra, track d_xy)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wnae.data.io import iter_events, pf_max_candidates, read_metadata
from wnae.data.schema import ObjectType, slot_ranges

__all__ = ["PFSummary", "SampleSummary", "format_summary", "plot_paths", "plot_samples", "summarise_file"]

logger = logging.getLogger(__name__)

_TYPES = {r.object_type: r for r in slot_ranges()}
_QUANTILES = (0.5, 0.9, 0.99)
#: Histogram binning per quantity (units in the axis labels of :func:`plot_samples`).
_BINS = {"pt": np.linspace(0, 300, 61), "eta": np.linspace(-5, 5, 51), "phi": np.linspace(-np.pi, np.pi, 37)}
#: PF candidates: classes (feature ``pid_class``) and the binning of the PF plots.
_PF_CLASSES = {1: "e", 2: "mu", 3: "gamma", 4: "h+-", 5: "h0"}
_PF_TRACKS = (1, 2, 4)
_PF_BINS = {
    "pt": np.logspace(-0.5, 3, 57),
    "dxy": np.logspace(-4, 3, 57),
    "dxy_significance": np.logspace(-2, 4, 49),
    "n": np.arange(0, 1029, 4) - 0.5,
}
#: |d_xy significance| above which a track counts as displaced.
DISPLACED_SIGNIFICANCE = 5.0


@dataclass
class PFSummary:
    """The PF view of a sample: mean candidates per event by class, and its tracks' displacement.

    Attributes:
        n_max: candidates stored per event (the file's n_max).
        mean_multiplicity: class label → mean candidates per event (within n_max).
        saturated_fraction: events whose n_max slots are all filled.
        track_median_abs_dxy_mm: median |d_xy| of the tracks (e, μ, charged hadrons).
        track_displaced_fraction: tracks with |d_xy significance| > :data:`DISPLACED_SIGNIFICANCE`.
        histograms: quantity → counts in :data:`_PF_BINS` (``n``: candidates per event; ``pt``: all
            candidates; ``dxy``, ``dxy_significance``: |value| of the tracks).
    """

    n_max: int
    mean_multiplicity: dict[str, float]
    saturated_fraction: float
    track_median_abs_dxy_mm: float
    track_displaced_fraction: float
    histograms: dict[str, np.ndarray] = field(repr=False, default_factory=dict)


class _PFAccumulator:
    def __init__(self, n_max: int) -> None:
        self.n_max, self.n = n_max, 0
        self.counts = dict.fromkeys(_PF_CLASSES, 0)
        self.saturated = self.n_tracks = self.displaced = 0
        self.abs_dxy: list[np.ndarray] = []
        self.hists = {q: np.zeros(len(b) - 1, np.int64) for q, b in _PF_BINS.items()}

    def add(self, pf: np.ndarray) -> None:
        pf = pf.astype(np.float32)
        cls = pf[..., 5]
        self.n += len(pf)
        for c in _PF_CLASSES:
            self.counts[c] += int((cls == c).sum())
        filled = cls > 0
        self.saturated += int(filled[:, -1].sum())
        tracks = np.isin(cls, _PF_TRACKS)
        dxy, sig = np.abs(pf[..., 3][tracks]), np.abs(pf[..., 4][tracks])
        self.n_tracks += len(dxy)
        self.displaced += int((sig > DISPLACED_SIGNIFICANCE).sum())
        self.abs_dxy.append(dxy)
        for q, values in (
            ("n", filled.sum(axis=1)),
            ("pt", pf[..., 0][filled]),
            ("dxy", dxy),
            ("dxy_significance", sig),
        ):
            self.hists[q] += np.histogram(values, bins=_PF_BINS[q])[0]

    def summary(self) -> PFSummary:
        dxy = np.concatenate(self.abs_dxy) if self.abs_dxy else np.zeros(0)
        return PFSummary(
            n_max=self.n_max,
            mean_multiplicity={label: self.counts[c] / max(self.n, 1) for c, label in _PF_CLASSES.items()},
            saturated_fraction=self.saturated / max(self.n, 1),
            track_median_abs_dxy_mm=float(np.median(dxy)) if len(dxy) else float("nan"),
            track_displaced_fraction=self.displaced / max(self.n_tracks, 1),
            histograms=self.hists,
        )


@dataclass
class SampleSummary:
    """Numbers a physicist checks first. pT in GeV.

    Attributes:
        name: sample name (from the metadata, else the file stem).
        n_events: events in the file.
        mean_multiplicity: object type label → mean number of objects per event.
        mean_met_gev: mean missing E_T.
        leading_pt_quantiles: type label → (50 %, 90 %, 99 %) quantiles of the leading object's pT
            over events that have one.
        histograms: (type label, quantity) → counts in :data:`_BINS`; multiplicity histograms under
            (type label, "n").
        pf: the PF candidates' summary, or None (a file with the L1 objects only).
    """

    name: str
    n_events: int
    mean_multiplicity: dict[str, float]
    mean_met_gev: float
    leading_pt_quantiles: dict[str, tuple[float, float, float]]
    histograms: dict[tuple[str, str], np.ndarray] = field(repr=False, default_factory=dict)
    pf: PFSummary | None = None


def summarise_file(path: str | Path, *, chunk_events: int = 100_000) -> SampleSummary:
    """Summarise one event file in a single chunked pass (memory bounded by one chunk)."""
    path = Path(path)
    meta = read_metadata(path)
    name = str(meta.get("sample", path.stem))
    n = 0
    mult_sum = {r.label: 0 for r in _TYPES.values()}
    met_sum = 0.0
    leading: dict[str, list[np.ndarray]] = {r.label: [] for r in _TYPES.values()}
    hists: dict[tuple[str, str], np.ndarray] = {}
    n_max = pf_max_candidates(path)  # a malformed PFCands is the reader's error, never skipped
    pf = None if n_max is None else _PFAccumulator(n_max)
    for chunk in iter_events(path, chunk_events=chunk_events, with_pf=pf is not None):
        if pf is not None:
            assert chunk.pf_cands is not None  # read with with_pf=True
            pf.add(chunk.pf_cands)
        p = chunk.particles
        n += len(p)
        met_sum += float(p[:, _TYPES[ObjectType.MET].start, 0].sum())
        for r in _TYPES.values():
            block = p[:, r.start : r.stop]
            filled = block[..., 3] != 0
            counts = filled.sum(axis=1)
            mult_sum[r.label] += int(counts.sum())
            lead = block[filled[:, 0], 0, 0]
            leading[r.label].append(lead)
            key = (r.label, "n")
            hists[key] = hists.get(key, 0) + np.bincount(counts, minlength=r.size + 1)
            for q, col in (("pt", 0), ("eta", 1), ("phi", 2)):
                h, _ = np.histogram(block[..., col][filled], bins=_BINS[q])
                hists[(r.label, q)] = hists.get((r.label, q), 0) + h
    quantiles = {}
    for label, parts in leading.items():
        values = np.concatenate(parts) if parts else np.zeros(0)
        quantiles[label] = (
            tuple(float(v) for v in np.quantile(values, _QUANTILES)) if len(values) else (float("nan"),) * 3
        )
    return SampleSummary(
        name=name,
        n_events=n,
        mean_multiplicity={k: v / max(n, 1) for k, v in mult_sum.items()},
        mean_met_gev=met_sum / max(n, 1),
        leading_pt_quantiles=quantiles,  # type: ignore[arg-type]
        histograms=hists,
        pf=None if pf is None else pf.summary(),
    )


def format_summary(summaries: list[SampleSummary]) -> str:
    """A fixed-width table: one line per sample."""
    labels = [r.label for r in _TYPES.values() if r.object_type is not ObjectType.MET]
    head = f"{'sample':<13} {'events':>8} " + " ".join(f"{'n_' + lab:>8}" for lab in labels)
    head += f" {'<MET>':>7} " + " ".join(f"{'lead ' + lab + ' pT q50/q90/q99':>28}" for lab in labels)
    lines = [head, "-" * len(head)]
    for s in summaries:
        row = f"{s.name:<13} {s.n_events:>8} " + " ".join(f"{s.mean_multiplicity[lab]:>8.2f}" for lab in labels)
        row += f" {s.mean_met_gev:>7.1f} "
        row += " ".join(f"{'/'.join(f'{q:.0f}' for q in s.leading_pt_quantiles[lab]):>28}" for lab in labels)
        lines.append(row)
    lines.append("(multiplicities are mean objects per event; pT and MET in GeV)")
    with_pf = [x for x in summaries if x.pf is not None]
    if with_pf:
        head = (
            f"{'sample':<13} {'n_max':>5} "
            + " ".join(f"{'n_' + lab:>7}" for lab in _PF_CLASSES.values())
            + f" {'full':>6} {'med|dxy|':>9} {'displ.':>7}"
        )
        lines += ["", "PF candidates", head, "-" * len(head)]
        for x in with_pf:
            pf = _pf_of(x)
            row = f"{x.name:<13} {pf.n_max:>5} " + " ".join(
                f"{pf.mean_multiplicity[lab]:>7.1f}" for lab in _PF_CLASSES.values()
            )
            row += (
                f" {100 * pf.saturated_fraction:>5.1f}% {1000 * pf.track_median_abs_dxy_mm:>7.0f}um"
                f" {100 * pf.track_displaced_fraction:>6.2f}%"
            )
            lines.append(row)
        lines.append(
            f"(candidates per event by class, within n_max; full: events with all n_max slots filled; "
            f"median track |d_xy|; displaced: tracks with |d_xy|/sigma > {DISPLACED_SIGNIFICANCE:g})"
        )
    return "\n".join(lines)


_PLOT_EXTENSIONS = ("png", "pdf")


def plot_paths(out_dir: str | Path) -> list[Path]:
    """The files :func:`plot_samples` may write into ``out_dir`` (``pf.*`` when a sample has PF candidates)."""
    labels = [r.label for r in _TYPES.values()] + ["pf"]
    return [Path(out_dir) / f"{label}.{ext}" for label in labels for ext in _PLOT_EXTENSIONS]


def plot_samples(summaries: list[SampleSummary], out_dir: str | Path) -> list[Path]:
    """Normalised histograms per object type and quantity, every sample overlaid (PNG + PDF)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    written = []
    axis_label = {"n": "objects per event", "pt": "$p_T$ [GeV]", "eta": r"$\eta$", "phi": r"$\phi$ [rad]"}
    for r in _TYPES.values():
        quantities = ("pt", "phi") if r.object_type is ObjectType.MET else ("n", "pt", "eta", "phi")
        fig, axes = plt.subplots(1, len(quantities), figsize=(4.2 * len(quantities), 3.6))
        for ax, q in zip(np.atleast_1d(axes), quantities, strict=True):
            for s in summaries:
                h = np.asarray(s.histograms.get((r.label, q), []), float)
                if h.sum() == 0:
                    continue
                edges = np.arange(len(h) + 1) - 0.5 if q == "n" else _BINS[q]
                ax.stairs(h / h.sum(), edges, label=s.name)
            ax.set_xlabel(f"{r.label} {axis_label[q]}")
            ax.set_ylabel("fraction")
            if q == "pt":
                ax.set_yscale("log")
        np.atleast_1d(axes)[0].legend(fontsize=7)
        written += _save(fig, out_dir, r.label, plt)
    with_pf = [x for x in summaries if x.pf is not None]
    if with_pf:
        written += _plot_pf(with_pf, out_dir, plt)
    logger.info("wrote %d plots to %s", len(written), out_dir)
    return written


def _pf_of(summary: SampleSummary) -> PFSummary:
    """The PF summary of a sample known to have PF candidates."""
    assert summary.pf is not None, f"sample {summary.name} has no PF candidates"
    return summary.pf


def _plot_pf(summaries: list[SampleSummary], out_dir: Path, plt: Any) -> list[Path]:
    """PF candidates: multiplicity, pT, track |d_xy| and |d_xy significance|, every sample overlaid."""
    labels = {
        "n": "PF candidates per event",
        "pt": "PF candidate $p_T$ [GeV]",
        "dxy": r"track $|d_{xy}|$ [mm]",
        "dxy_significance": r"track $|d_{xy}|/\sigma$",
    }
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    for ax, q in zip(axes, labels, strict=True):
        for x in summaries:
            h = np.asarray(_pf_of(x).histograms[q], float)
            if h.sum():
                ax.stairs(h / h.sum(), _PF_BINS[q], label=x.name)
        ax.set_xlabel(labels[q])
        ax.set_ylabel("fraction")
        if q == "n":
            ax.set_xlim(0, 1.05 * max(_pf_of(x).n_max for x in summaries))
        else:
            ax.set_xscale("log")
            ax.set_yscale("log")
    axes[0].legend(fontsize=7)
    return _save(fig, out_dir, "pf", plt)


def _save(fig: Any, out_dir: Path, stem: str, plt: Any) -> list[Path]:
    """Write ``fig`` as ``<stem>.png`` and ``.pdf`` (each atomically) and close it."""
    from wnae._io import atomic_path

    fig.tight_layout()
    written = []
    for ext in _PLOT_EXTENSIONS:
        path = out_dir / f"{stem}.{ext}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext)
        written.append(path)
    plt.close(fig)
    return written

"""Per-sample summaries and sanity plots of L1 event files (``wnae data summary``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wnae.data.io import iter_events, read_metadata
from wnae.data.schema import ObjectType, slot_ranges

__all__ = ["SampleSummary", "format_summary", "plot_paths", "plot_samples", "summarise_file"]

logger = logging.getLogger(__name__)

_TYPES = {r.object_type: r for r in slot_ranges()}
_QUANTILES = (0.5, 0.9, 0.99)
#: Histogram binning per quantity (units in the axis labels of :func:`plot_samples`).
_BINS = {"pt": np.linspace(0, 300, 61), "eta": np.linspace(-5, 5, 51), "phi": np.linspace(-np.pi, np.pi, 37)}


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
    """

    name: str
    n_events: int
    mean_multiplicity: dict[str, float]
    mean_met_gev: float
    leading_pt_quantiles: dict[str, tuple[float, float, float]]
    histograms: dict[tuple[str, str], np.ndarray] = field(repr=False, default_factory=dict)


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
    for chunk in iter_events(path, chunk_events=chunk_events):
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
        quantiles[label] = tuple(float(v) for v in np.quantile(values, _QUANTILES)) if len(values) else (
            float("nan"),) * 3
    return SampleSummary(
        name=name,
        n_events=n,
        mean_multiplicity={k: v / max(n, 1) for k, v in mult_sum.items()},
        mean_met_gev=met_sum / max(n, 1),
        leading_pt_quantiles=quantiles,  # type: ignore[arg-type]
        histograms=hists,
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
    return "\n".join(lines)


_PLOT_EXTENSIONS = ("png", "pdf")


def plot_paths(out_dir: str | Path) -> list[Path]:
    """The files :func:`plot_samples` writes into ``out_dir``."""
    return [Path(out_dir) / f"{r.label}.{ext}" for r in _TYPES.values() for ext in _PLOT_EXTENSIONS]


def plot_samples(summaries: list[SampleSummary], out_dir: str | Path) -> list[Path]:
    """Normalised histograms per object type and quantity, every sample overlaid (PNG + PDF)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from wnae._io import atomic_path

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
        fig.tight_layout()
        for ext in _PLOT_EXTENSIONS:
            path = out_dir / f"{r.label}.{ext}"
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=ext)
            written.append(path)
        plt.close(fig)
    logger.info("wrote %d plots to %s", len(written), out_dir)
    return written

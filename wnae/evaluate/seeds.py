"""Multi-seed comparison of training configs (``wnae compare``): train, evaluate, mean ± spread over seeds.

Each entry of a :class:`SeedCompareConfig` is a training config and a list of seeds. For every entry
and seed the run ``<runs_dir>/compare-<label>-s<seed>`` is trained with that seed (a finished run of
that name with the same resolved config is reused, an interrupted one resumed; one with another
config is refused, never overwritten), evaluated with one
:class:`~wnae.evaluate.config.EvaluateConfig` (:func:`wnae.evaluate.run.evaluate_run`), and its
background reconstruction quality measured (:mod:`wnae.evaluate.reconstruction`). Per label the
seeds are summarised by their mean and sample standard deviation,

.. math::

    \\bar v = \\frac1n \\sum_{k=1}^{n} v_k, \\qquad
    s = \\sqrt{\\frac{1}{n-1} \\sum_{k=1}^{n} (v_k - \\bar v)^2} \\quad (n \\ge 2),

for every signal's AUC (vs SM test and vs zero bias), TPR at the target FPR and efficiency at each
working point, for the reconstruction EMD, and for the density fit each run measured at its kept
epoch (:mod:`wnae.evaluate.density_fit`). With exactly two labels the ratio of the first
label's mean efficiency to the second's is given per signal and working point, and their
difference seed by seed (:func:`paired_difference`: two configs trained at one seed share the data
split and, for two-stage configs, the extractor, so the paired difference is the sharper test).

Outputs (``compare.json`` last: it marks the comparison as finished): ``compare.md``,
``compare.json`` and each run's evaluation under ``evaluations/<run>/`` (``working_points.json``,
``evaluation/metrics.json``, ``report.md``, plots).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationError, field_validator, model_validator

from wnae._io import atomic_path, ensure_dir, write_json_atomic
from wnae.config import StrictModel, load_config
from wnae.errors import ConfigError, ModelError, OutputError
from wnae.evaluate.density_fit import FIT_KEYS, run_density_fit

__all__ = [
    "COMPARE_JSON",
    "COMPARE_MD",
    "CompareEntry",
    "PlannedRun",
    "SeedCompareConfig",
    "aggregate_label",
    "compare_doc",
    "format_compare",
    "paired_difference",
    "plan_compare",
    "run_compare",
    "summarise",
]

logger = logging.getLogger(__name__)

COMPARE_JSON = "compare.json"
COMPARE_MD = "compare.md"
EVALUATIONS_DIR = "evaluations"
#: Run-directory name of one entry at one seed.
RUN_NAME = "compare-{label}-s{seed}"
#: The evaluation settings used unless ``evaluate_config`` names others.
DEFAULT_EVALUATE_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "evaluate_default.yml"
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class CompareEntry(StrictModel):
    """One training config to compare, at several seeds.

    Attributes:
        label: name in the tables and in the run names (``compare-<label>-s<seed>``).
        config: path of a training YAML (:class:`~wnae.models.config.TrainConfig`); a relative path is
            taken from the comparison file's directory, else from the current directory.
        seeds: the seeds, each overriding the config's ``seed``.
        train_data_dir: the data directory this entry's runs train on (default: the comparison's
            ``--data-dir``), relative as ``config``; every run is evaluated on ``--data-dir``. For
            studies of the training sample (e.g. its size), with the same test events for all.
    """

    label: str
    config: str
    seeds: list[int] = Field(min_length=1)
    train_data_dir: str | None = None

    @field_validator("label")
    @classmethod
    def _check_label(cls, value: str) -> str:
        if not _LABEL.match(value):
            msg = f"label '{value}' must be letters, digits, '_', '.' or '-' (it names run directories)"
            raise ValueError(msg)
        return value

    @field_validator("seeds")
    @classmethod
    def _check_seeds(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            msg = f"seeds {value} repeat a seed"
            raise ValueError(msg)
        if any(not 0 <= s < 2**31 for s in value):
            msg = f"seeds {value}: each must be in [0, 2^31)"
            raise ValueError(msg)
        return value


class SeedCompareConfig(StrictModel):
    """A multi-seed comparison (``wnae compare``).

    Attributes:
        name: output directory name under ``compare/`` (default: the comparison file's stem).
        entries: the training configs, each with its label and seeds.
        evaluate_config: evaluation YAML (default: the shipped ``evaluate_default.yml``), relative as
            ``entries[].config``.
        reconstruction_events: SM test events in the reconstruction EMD (0 = no EMD).
        reconstruction_seed: seed of the events drawn for it (the same events for every run).
        reference: the label every other label is compared with seed by seed (default: the last entry).
    """

    name: str | None = None
    entries: list[CompareEntry] = Field(min_length=1)
    reference: str | None = None
    evaluate_config: str | None = None
    reconstruction_events: int = Field(2000, ge=0)
    reconstruction_seed: int = Field(0, ge=0)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str | None) -> str | None:
        if value is not None and not _LABEL.match(value):
            msg = f"name '{value}' must be letters, digits, '_', '.' or '-' (it names a directory)"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _unique_labels(self) -> SeedCompareConfig:
        labels = [e.label for e in self.entries]
        repeated = sorted({x for x in labels if labels.count(x) > 1})
        if repeated:
            msg = f"labels must be unique, {', '.join(repeated)} is given twice"
            raise ValueError(msg)
        if self.reference is not None and self.reference not in labels:
            msg = f"reference '{self.reference}' is not a label ({', '.join(labels)})"
            raise ValueError(msg)
        return self


# --- aggregation over seeds


def summarise(values: Sequence[float | None]) -> dict[str, Any]:
    """Mean and sample standard deviation (``ddof = 1``) of the known values (None skipped).

    Returns:
        ``{"mean", "std", "n", "per_seed"}``: ``mean`` None without a value, ``std`` None below two.

    Example:
        >>> summarise([1.0, 2.0, 3.0, None])
        {'mean': 2.0, 'std': 1.0, 'n': 3, 'per_seed': [1.0, 2.0, 3.0, None]}
    """
    known = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    mean = float(known.mean()) if len(known) else None
    std = float(known.std(ddof=1)) if len(known) > 1 else None
    return {"mean": mean, "std": std, "n": len(known), "per_seed": list(values)}


def aggregate_label(
    label: str,
    evaluations: Sequence[Mapping[str, Any]],
    reconstruction: Sequence[Mapping[str, Any] | None] = (),
    fits: Sequence[Mapping[str, Any] | None] = (),
) -> dict[str, Any]:
    """One label's seeds summarised (:func:`summarise`) per signal and working point.

    Args:
        label: the entry's label.
        evaluations: each seed's evaluation document (:meth:`RunEvaluation.to_dict`, ``metrics.json``).
        reconstruction: each seed's :meth:`ReconstructionQuality.to_dict`, or None where it has none.
        fits: each seed's :func:`~wnae.evaluate.density_fit.run_density_fit`, or None where it has none.

    Returns:
        ``{"label", "runs", "n_seeds", "working_points_khz", "realised": {wp: {"rate_khz",
        "n_zb_effective": summaries, "unresolved": seeds whose threshold the zero bias does not
        resolve}}, "signals": {signal: {"auc",
        "auc_zero_bias", "tpr_at_fpr", "tpr_at_zero_bias_fpr", "efficiency": {wp: summary}}},
        "reconstruction": {"space", "n_events", "emd", "mean_squared_error"} or None,
        "density_fit": {"equilibrium_steps", key: summary for key in FIT_KEYS} or None}``.
    """
    if not evaluations:
        msg = f"label '{label}': no evaluation to summarise"
        raise ConfigError(msg)
    wps = {wp["name"]: wp["target_rate_khz"] for wp in evaluations[0]["working_points"]}
    signals = sorted({s for e in evaluations for s in e["signals"]})
    out: dict[str, Any] = {
        "label": label,
        "runs": [e.get("run") for e in evaluations],
        "n_seeds": len(evaluations),
        "working_points_khz": wps,
        "realised": _realised(evaluations, wps),
        "signals": {},
    }
    for sig in signals:
        per = [e["signals"].get(sig) for e in evaluations]

        def values(get: Any, per: list[Any] = per) -> list[float | None]:
            return [None if p is None else get(p) for p in per]

        out["signals"][sig] = {
            "auc": summarise(values(lambda p: p["auc"])),
            "auc_zero_bias": summarise(values(lambda p: p.get("auc_zero_bias"))),
            "tpr_at_fpr": summarise(values(lambda p: p["tpr_at_fpr"]["tpr"])),
            "tpr_at_zero_bias_fpr": summarise(
                values(lambda p: None if p.get("tpr_at_zero_bias_fpr") is None else p["tpr_at_zero_bias_fpr"]["tpr"])
            ),
            "efficiency": {
                wp: summarise(values(lambda p, wp=wp: p["efficiency"][wp]["value"] if wp in p["efficiency"] else None))
                for wp in wps
            },
        }
    known = [r for r in reconstruction if r is not None]
    out["reconstruction"] = None
    if known:
        out["reconstruction"] = {
            "space": known[0]["space"],
            "n_events": known[0]["n_events"],
            "emd": summarise([None if r is None else r["emd"] for r in reconstruction]),
            "mean_squared_error": summarise([None if r is None else r["mean_squared_error"] for r in reconstruction]),
        }
    out["density_fit"] = None
    if any(f is not None for f in fits):
        out["density_fit"] = {
            "equilibrium_steps": max(f["equilibrium_steps"] for f in fits if f is not None),
            **{key: summarise([None if f is None else f[key] for f in fits]) for key in FIT_KEYS},
        }
    return out


def _realised(evaluations: Sequence[Mapping[str, Any]], wps: Mapping[str, float]) -> dict[str, Any]:
    """Per working point, the rate each seed's threshold really has and the zero-bias events behind it."""
    out: dict[str, Any] = {}
    for name in wps:
        points = [next((w for w in e["working_points"] if w["name"] == name), None) for e in evaluations]
        out[name] = {
            "rate_khz": summarise([None if w is None else w.get("rate_khz") for w in points]),
            "n_zb_effective": summarise([None if w is None else w.get("n_zb_effective_above") for w in points]),
            "unresolved": sum(1 for w in points if w is not None and w.get("resolved") is False),
        }
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def paired_difference(
    a: Sequence[float | None], a_seeds: Sequence[int], b: Sequence[float | None], b_seeds: Sequence[int]
) -> dict[str, Any]:
    """a − b seed by seed, over the seeds where both have a value.

    Two configs trained at the same seed share the data split and the seeded initialisation (and,
    for two-stage configs with the same extractor settings, the extractor itself), so much of the
    seed-to-seed spread cancels in the difference.

    Returns:
        ``{"n", "mean", "std_error", "ahead", "behind"}``: the mean difference, its standard error
        (sample std / √n; None below two seeds), and at how many seeds a is above / below b.

    Example:
        >>> paired_difference([3.0, 5.0, None], [0, 1, 2], [1.0, 4.0, 2.0], [0, 1, 2])
        {'n': 2, 'mean': 1.5, 'std_error': 0.5, 'ahead': 2, 'behind': 0}
    """
    by_seed = dict(zip(b_seeds, b, strict=True))
    diffs = np.array(
        [
            x - y
            for seed, x in zip(a_seeds, a, strict=True)
            if (y := by_seed.get(seed)) is not None and x is not None and math.isfinite(x) and math.isfinite(y)
        ],
        dtype=float,
    )
    n = len(diffs)
    return {
        "n": n,
        "mean": float(diffs.mean()) if n else None,
        "std_error": float(diffs.std(ddof=1) / math.sqrt(n)) if n > 1 else None,
        "ahead": int((diffs > 0).sum()),
        "behind": int((diffs < 0).sum()),
    }


def compare_doc(
    labels: Sequence[Mapping[str, Any]], *, meta: Mapping[str, Any] | None = None, reference: str | None = None
) -> dict[str, Any]:
    """The ``compare.json`` document from :func:`aggregate_label` of each label (``label_order``: their order).

    With exactly two labels, ``ratio`` holds the first label's mean over the second's (None where the
    second is 0 or missing): ``efficiency[signal][wp]``, ``auc[signal]``, ``auc_zero_bias[signal]`` and
    ``reconstruction_emd``. ``paired`` lists, for every other label that names its ``seeds``, the
    :func:`paired_difference` label − ``reference`` (default: the last label) of
    ``efficiency[signal][wp]``, ``auc_zero_bias[signal]`` and ``reconstruction_emd``.
    """
    doc: dict[str, Any] = {
        **(meta or {}),
        "labels": {lab["label"]: dict(lab) for lab in labels},
        "label_order": [lab["label"] for lab in labels],
        "ratio": None,
        "paired": [],
    }
    if len(labels) == 2:
        a, b = labels
        ratio: dict[str, Any] = {
            "numerator": a["label"],
            "denominator": b["label"],
            "efficiency": {},
            "auc": {},
            "auc_zero_bias": {},
        }
        for sig in sorted(set(a["signals"]) & set(b["signals"])):
            sa, sb = a["signals"][sig], b["signals"][sig]
            ratio["efficiency"][sig] = {
                wp: _ratio(sa["efficiency"][wp]["mean"], sb["efficiency"][wp]["mean"])
                for wp in sa["efficiency"]
                if wp in sb["efficiency"]
            }
            for key in ("auc", "auc_zero_bias"):
                ratio[key][sig] = _ratio(sa[key]["mean"], sb[key]["mean"])
        ra, rb = a.get("reconstruction"), b.get("reconstruction")
        ratio["reconstruction_emd"] = (
            _ratio(ra["emd"]["mean"], rb["emd"]["mean"]) if ra is not None and rb is not None else None
        )
        doc["ratio"] = ratio
    by_label = {lab["label"]: lab for lab in labels}
    ref = by_label.get(reference or "", labels[-1] if labels else None)
    if ref is not None and "seeds" in ref:
        doc["paired"] = [_paired(lab, ref) for lab in labels if lab is not ref and "seeds" in lab]
    return doc


def _paired(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """The ``paired`` part of :func:`compare_doc`: :func:`paired_difference` of efficiencies, AUCs, EMD."""

    def diff(sa: Mapping[str, Any], sb: Mapping[str, Any]) -> dict[str, Any]:
        return paired_difference(sa["per_seed"], a["seeds"], sb["per_seed"], b["seeds"])

    out: dict[str, Any] = {"minuend": a["label"], "subtrahend": b["label"], "efficiency": {}, "auc_zero_bias": {}}
    for sig in sorted(set(a["signals"]) & set(b["signals"])):
        sa, sb = a["signals"][sig], b["signals"][sig]
        out["efficiency"][sig] = {
            wp: diff(sa["efficiency"][wp], sb["efficiency"][wp]) for wp in sa["efficiency"] if wp in sb["efficiency"]
        }
        out["auc_zero_bias"][sig] = diff(sa["auc_zero_bias"], sb["auc_zero_bias"])
    ra, rb = a.get("reconstruction"), b.get("reconstruction")
    out["reconstruction_emd"] = diff(ra["emd"], rb["emd"]) if ra is not None and rb is not None else None
    return out


def _pm(summary: Mapping[str, Any], spec: str = ".3f", scale: float = 1.0) -> str:
    """``"0.912 ± 0.004"`` (``"–"`` without a value, no ± with one seed)."""
    if summary["mean"] is None:
        return "–"
    text = format(scale * summary["mean"], spec)
    return text if summary["std"] is None else f"{text} ± {format(scale * summary['std'], spec)}"


def format_compare(doc: Mapping[str, Any]) -> str:
    """``compare.md``: per signal and label the mean ± std over seeds; reconstruction EMD; ratios."""
    labels = [doc["labels"][name] for name in doc.get("label_order", doc["labels"])]
    wps = labels[0]["working_points_khz"]
    lines = [f"# Multi-seed comparison `{doc.get('name', '')}`", ""]
    cl = doc.get("confidence_level")
    lines += [
        "Mean ± sample standard deviation over the seeds (n = seeds with a value); each seed's own "
        "Clopper–Pearson intervals"
        + (f" ({100 * cl:.4g} % CL)" if cl else "")
        + f" are in `{EVALUATIONS_DIR}/<run>/report.md`. ε = S(t)/S0 at each working point's rate on the "
        "zero bias; AUC (ZB) against the zero bias the rates are calibrated on.",
        "",
        "| label | seeds | runs |",
        "|---|---:|---|",
    ]
    lines += [f"| {lab['label']} | {lab['n_seeds']} | {', '.join(str(r) for r in lab['runs'])} |" for lab in labels]
    fpr = doc.get("target_fpr")
    head = ["signal", "label", "AUC (SM test)", "AUC (ZB)", f"TPR@FPR={fpr:.0e} (ZB) (%)" if fpr else "TPR (ZB) (%)"]
    head += [f"ε {name} {rate:g} kHz (%)" for name, rate in wps.items()]
    lines += [
        "",
        "## Signal efficiency and AUC",
        "",
        "| " + " | ".join(head) + " |",
        "|---|---|" + "---:|" * (len(head) - 2),
    ]
    signals = sorted({s for lab in labels for s in lab["signals"]})
    for sig in signals:
        for lab in labels:
            s = lab["signals"].get(sig)
            if s is None:
                continue
            cells = [
                sig,
                f"{lab['label']} ({s['auc']['n']})",
                _pm(s["auc"]),
                _pm(s["auc_zero_bias"]),
                _pm(s["tpr_at_zero_bias_fpr"], ".3g", 100),
            ]
            cells += [_pm(s["efficiency"][wp], ".3g", 100) for wp in wps]
            lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Working points as realised",
        "",
        "Each seed's threshold sits where the weighted zero bias crosses the target rate; with few zero-bias "
        "events behind it, its real rate is off the target (mean ± std over the seeds; unresolved: seeds whose "
        "threshold the zero bias does not resolve, see each report).",
        "",
        "| label | " + " | ".join(f"{name}: rate (kHz) / effective ZB events / unresolved" for name in wps) + " |",
        "|---|" + "---:|" * len(wps),
    ]
    for lab in labels:
        realised = lab.get("realised") or {}
        cells = [lab["label"]]
        for name in wps:
            r = realised.get(name)
            cells.append(
                "–"
                if r is None
                else f"{_pm(r['rate_khz'], '.3g')} / {_pm(r['n_zb_effective'], '.3g')} / {r['unresolved']}"
            )
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Background reconstruction quality",
        "",
        "Exact EMD (squared Euclidean, uniform weights, by linear assignment) between held-out SM test events "
        "and their reconstruction, in the space each model reconstructs; mean ‖x − x̂‖² pairs each event "
        "with its own reconstruction (an upper bound).",
        "",
        "| label | space | events | seeds | EMD | mean ‖x − x̂‖² |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for lab in labels:
        r = lab.get("reconstruction")
        if r is None:
            lines.append(f"| {lab['label']} | – | – | 0 | no reconstruction | – |")
            continue
        lines.append(
            f"| {lab['label']} | {r['space']} | {r['n_events']} | {r['emd']['n']} | "
            f"{_pm(r['emd'], '.4g')} | {_pm(r['mean_squared_error'], '.4g')} |"
        )
    lines += _density_fit_section(labels)
    ratio = doc.get("ratio")
    if ratio:
        lines += [
            "",
            f"## Ratio {ratio['numerator']} / {ratio['denominator']} of the mean",
            "",
            "| signal | AUC (SM test) | AUC (ZB) | " + " | ".join(f"ε {wp}" for wp in wps) + " |",
            "|---|" + "---:|" * (2 + len(wps)),
        ]
        for sig, effs in ratio["efficiency"].items():
            cells = [sig, _fmt(ratio["auc"][sig]), _fmt(ratio["auc_zero_bias"][sig])]
            cells += [_fmt(effs.get(wp)) for wp in wps]
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", f"Reconstruction EMD ratio: {_fmt(ratio['reconstruction_emd'])}."]
    for paired in doc.get("paired") or []:
        lines += [
            "",
            f"## Paired by seed: {paired['minuend']} − {paired['subtrahend']}",
            "",
            "Difference at each seed both were trained at (same data split and seeded start; for two-stage "
            "configs with the same extractor settings, the same extractor), mean ± its standard error, and "
            f"(k/n) the seeds where {paired['minuend']} is ahead. Efficiencies in points of %.",
            "",
            "| signal | AUC (ZB) | " + " | ".join(f"ε {wp}" for wp in wps) + " |",
            "|---|" + "---:|" * (1 + len(wps)),
        ]
        for sig, effs in paired["efficiency"].items():
            cells = [sig, _diff(paired["auc_zero_bias"][sig], ".3f", 1.0)]
            cells += [_diff(effs[wp], ".2f", 100.0) if wp in effs else "–" for wp in wps]
            lines.append("| " + " | ".join(cells) + " |")
        emd = paired.get("reconstruction_emd")
        if emd is not None:
            lines += ["", f"Reconstruction EMD, paired: {_diff(emd, '.3f', 1.0)}."]
    return "\n".join(lines) + "\n"


def _density_fit_section(labels: Sequence[Mapping[str, Any]]) -> list[str]:
    """The ``compare.md`` table of the density fit of the labels whose runs measured it (a VAE has none)."""
    fitted = [lab for lab in labels if lab.get("density_fit")]
    if not fitted:
        return []
    steps = max(lab["density_fit"]["equilibrium_steps"] for lab in fitted)
    lines = [
        "",
        "## How well each model's density fits the data",
        "",
        "The exact W (squared Euclidean, in the space the energy lives in) between the model's Langevin samples "
        "and held-out data over the two-sample floor (1: as close as two disjoint samples of the data), at each "
        "run's kept epoch: on the chains of training (the larger of W and W after the long-chain steps), and "
        + (f"after {steps} further steps, where the samples follow exp(−E/T) itself" if steps else "not run longer")
        + "; ⟨E₋⟩/⟨E₊⟩ and the samples' spread over the data's. Mean ± std [min–max] over the seeds.",
        "",
        "| label | seeds | W/floor, trained chains | ⟨E₋⟩/⟨E₊⟩ | spread | W/floor, long run | ⟨E₋⟩/⟨E₊⟩, long run "
        "| spread, long run |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for lab in fitted:
        fit = lab["density_fit"]
        cells = [lab["label"], str(fit["w_over_floor"]["n"])] + [_pm_range(fit[key]) for key in FIT_KEYS]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _pm_range(summary: Mapping[str, Any]) -> str:
    """``"2.99 ± 0.31 [2.57–3.50]"`` (``"–"`` without a value)."""
    known = [v for v in summary["per_seed"] if v is not None and math.isfinite(v)]
    if not known:
        return "–"
    text = _pm(summary, ".2f")
    return text if len(known) < 2 else f"{text} [{min(known):.2f}–{max(known):.2f}]"


def _diff(d: Mapping[str, Any], spec: str, scale: float) -> str:
    """``"+0.52 ± 0.31 (4/5)"`` (fixed-point ``spec``) for a :func:`paired_difference` (``"–"`` without a common seed)."""
    if d["mean"] is None:
        return "–"
    text = format(scale * d["mean"], "+" + spec)
    if d["std_error"] is not None:
        text += f" ± {format(scale * d['std_error'], spec)}"
    return f"{text} ({d['ahead']}/{d['n']})"


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


# --- planning: every check before any training


@dataclass
class PlannedRun:
    """One entry at one seed.

    Attributes:
        label, seed: the entry and seed.
        run_dir: ``<runs_dir>/compare-<label>-s<seed>``.
        config: the resolved training config (a :class:`~wnae.models.config.TrainConfig`).
        action: ``reuse`` (finished, same config), ``resume`` (interrupted, same config) or ``train``.
        train_data_dir: the data directory it trains on.
    """

    label: str
    seed: int
    run_dir: Path
    config: Any
    action: Literal["reuse", "resume", "train"]
    train_data_dir: Path | None = None


@dataclass
class ComparePlan:
    """What :func:`run_compare` will do, checked in full by :func:`plan_compare`."""

    config: SeedCompareConfig
    name: str
    entries: list[CompareEntry]
    runs: list[PlannedRun]
    evaluate: Any
    output_dir: Path
    data_dir: Path
    runs_dir: Path
    config_paths: dict[str, str] = field(default_factory=dict)


def _resolve(path: str, source: Path, key: str) -> Path:
    """``path`` as given if absolute; else from the directory of ``source`` (the comparison file), else
    from the current directory; a :class:`ConfigError` naming ``source``, ``key`` and every place tried."""
    p = Path(path)
    candidates = [p] if p.is_absolute() else [source.parent / p, p]
    for c in candidates:
        if c.is_file():
            return c
    tried = " or ".join(str(c) for c in dict.fromkeys(candidates))
    msg = f"{source}: '{key}': file {path} not found (tried {tried})"
    raise ConfigError(msg)


def _resolve_dir(path: str, source: Path, key: str) -> Path:
    """A data directory named in the comparison file, found as :func:`_resolve` finds files."""
    p = Path(path)
    candidates = [p] if p.is_absolute() else [source.parent / p, p]
    for c in candidates:
        if (c / "manifest.json").is_file():
            return c
    tried = " or ".join(str(c) for c in dict.fromkeys(candidates))
    msg = f"{source}: '{key}': no data directory {path} with a manifest.json (tried {tried})"
    raise ConfigError(msg)


def _same_config(run_dir: Path, cfg: Any) -> bool:
    """Whether ``run_dir/config.yml`` is the same training config as ``cfg`` (defaults filled in)."""
    from wnae.models.config import TrainConfig

    try:
        return load_config(run_dir / "config.yml", TrainConfig) == cfg
    except ConfigError:
        return False


def plan_compare(
    config: SeedCompareConfig,
    *,
    config_path: str | Path,
    runs_dir: str | Path = "runs",
    data_dir: str | Path = "data",
    output_dir: str | Path | None = None,
    overwrite: bool = False,
    plots: bool | None = None,
    labels: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
) -> ComparePlan:
    """Resolve and check everything before any training: configs, runs, data, output.

    Args:
        config: the comparison.
        config_path: the comparison file (relative paths in it are taken from its directory; its stem
            is the default name).
        runs_dir: where the runs ``compare-<label>-s<seed>`` live.
        data_dir: data directory with ``manifest.json``.
        output_dir: default ``compare/<name>``.
        overwrite: replace a finished comparison in ``output_dir``.
        plots: override the evaluation config's ``plots``.
        labels: only the entries with these labels (default: all).
        seeds: these seeds for every entry instead of its own.

    Raises:
        ConfigError: a training or evaluation config missing or invalid (naming its key and file), a
            run directory that holds another config than its entry's (never overwritten), an unknown
            label in ``labels``, a repeated or negative seed in ``seeds``.
        OutputError: ``output_dir`` holds a finished comparison (without ``overwrite``) or cannot be written.
        DataError: no ``manifest.json`` in ``data_dir``.
    """
    from wnae.data.samples import load_manifest
    from wnae.evaluate.config import EvaluateConfig
    from wnae.models.config import TrainConfig
    from wnae.models.serialization import RUN_INFO

    config_path = Path(config_path)
    name = config.name or config_path.stem
    known = [e.label for e in config.entries]
    unknown = [lab for lab in labels or () if lab not in known]
    if unknown:
        msg = f"--labels {' '.join(unknown)}: not in {config_path} (labels: {', '.join(known)})"
        raise ConfigError(msg)
    if seeds is not None:
        try:
            CompareEntry(label="seeds", config="", seeds=list(seeds))
        except ValidationError as err:
            msg = f"--seeds {' '.join(map(str, seeds))}: {err.errors()[0]['msg']}"
            raise ConfigError(msg) from err
    entries = [
        e if seeds is None else e.model_copy(update={"seeds": list(seeds)})
        for e in config.entries
        if labels is None or e.label in labels
    ]
    if config.evaluate_config is None:
        eval_path = DEFAULT_EVALUATE_CONFIG
    else:
        eval_path = _resolve(config.evaluate_config, config_path, "evaluate_config")
    evaluate = load_config(eval_path, EvaluateConfig)
    if plots is not None:
        evaluate = evaluate.model_copy(update={"plots": plots})
    runs_dir = Path(runs_dir)
    runs: list[PlannedRun] = []
    paths: dict[str, str] = {}
    for entry in entries:
        i = known.index(entry.label)
        path = _resolve(entry.config, config_path, f"entries.{i}.config")
        paths[entry.label] = str(path)
        train_dir = (
            None
            if entry.train_data_dir is None
            else _resolve_dir(entry.train_data_dir, config_path, f"entries.{i}.train_data_dir")
        )
        if train_dir is not None:
            load_manifest(train_dir)
        for seed in entry.seeds:
            cfg = load_config(path, TrainConfig, overrides={"seed": seed})
            run_dir = runs_dir / RUN_NAME.format(label=entry.label, seed=seed)
            action: Literal["reuse", "resume", "train"] = "train"
            if run_dir.exists():
                finished = (run_dir / RUN_INFO).is_file()
                if not (run_dir / "config.yml").is_file():
                    msg = f"{run_dir} exists but is not a run (no config.yml): remove it or choose another --runs-dir"
                    raise ConfigError(msg)
                if not _same_config(run_dir, cfg):
                    state = "finished" if finished else "unfinished"
                    msg = (
                        f"{run_dir} is a {state} run with another config than entry '{entry.label}' ({path} at "
                        f"seed {seed}): it is never overwritten; remove it or choose another --runs-dir"
                    )
                    raise ConfigError(msg)
                action = "reuse" if finished else "resume"
            runs.append(PlannedRun(entry.label, seed, run_dir, cfg, action, train_dir))
    load_manifest(data_dir)
    output_dir = Path(output_dir) if output_dir is not None else Path("compare") / name
    if (output_dir / COMPARE_JSON).exists() and not overwrite:
        msg = f"{output_dir / COMPARE_JSON} exists: a finished comparison; pass --overwrite to replace it"
        raise OutputError(msg)
    ensure_dir(output_dir)
    return ComparePlan(config, name, entries, runs, evaluate, output_dir, Path(data_dir), runs_dir, paths)


# --- running


def _train(planned: PlannedRun, data_dir: Path) -> None:
    from wnae.train.loop import train

    if planned.action == "reuse":
        logger.info("reusing %s (finished, same config)", planned.run_dir)
        return
    resume = planned.action == "resume"
    logger.info(
        "%s %s (%s, seed %d)", "resuming" if resume else "training", planned.run_dir, planned.label, planned.seed
    )
    train(
        None if resume else planned.config,
        data_dir=data_dir,
        runs_dir=planned.run_dir.parent,
        name=planned.run_dir.name,
        resume=resume,
    )


def run_compare(plan: ComparePlan) -> dict[str, Any]:
    """Train (or reuse) every run, evaluate it, measure its reconstruction, write the comparison.

    Returns:
        The ``compare.json`` document.
    """
    from wnae.evaluate.evaluation import write_evaluation
    from wnae.evaluate.reconstruction import reconstruction_quality, sm_test_subset
    from wnae.evaluate.run import evaluate_run
    from wnae.evaluate.scores import load_scorer
    from wnae.models.serialization import load_run

    cfg = plan.config
    events = None
    if cfg.reconstruction_events > 0:
        events = sm_test_subset(
            plan.data_dir,
            cfg.reconstruction_events,
            seed=cfg.reconstruction_seed,
            chunk_events=plan.evaluate.chunk_events,
        )
    docs: dict[str, list[dict[str, Any]]] = {e.label: [] for e in plan.entries}
    recon: dict[str, list[dict[str, Any] | None]] = {e.label: [] for e in plan.entries}
    fits: dict[str, list[dict[str, Any] | None]] = {e.label: [] for e in plan.entries}
    for planned in plan.runs:
        _train(planned, planned.train_data_dir or plan.data_dir)
        fits[planned.label].append(run_density_fit(planned.run_dir))
        scorer = load_scorer(planned.run_dir)
        evaluation = evaluate_run(
            planned.run_dir, data_dir=plan.data_dir, config=plan.evaluate, scorer=scorer, write=False
        )
        write_evaluation(evaluation, plan.output_dir / EVALUATIONS_DIR / planned.run_dir.name)
        docs[planned.label].append(evaluation.to_dict())
        quality = None
        if events is not None:
            try:
                loaded = getattr(scorer, "run", None) or load_run(planned.run_dir)  # the model the scorer holds
                quality = reconstruction_quality(loaded, events).to_dict()
            except ModelError as err:
                logger.warning("%s: %s; its reconstruction EMD is skipped", planned.run_dir.name, err)
        recon[planned.label].append(quality)
    labels = [aggregate_label(e.label, docs[e.label], recon[e.label], fits[e.label]) for e in plan.entries]
    for lab, entry in zip(labels, plan.entries, strict=True):
        lab["seeds"] = list(entry.seeds)
        lab["config"] = plan.config_paths[entry.label]
        trained_on = next((r.train_data_dir for r in plan.runs if r.label == entry.label), None)
        lab["train_data_dir"] = str(trained_on or plan.data_dir)
    ev = plan.evaluate
    doc = compare_doc(
        labels,
        reference=cfg.reference,
        meta={
            "name": plan.name,
            "data_dir": str(plan.data_dir),
            "runs_dir": str(plan.runs_dir),
            "input_rate_khz": ev.input_rate_khz,
            "confidence_level": ev.confidence_level,
            "target_fpr": ev.target_fpr,
            "reconstruction_events": 0 if events is None else len(events),
            "reconstruction_seed": cfg.reconstruction_seed,
        },
    )
    with atomic_path(plan.output_dir / COMPARE_MD) as tmp:
        tmp.write_text(format_compare(doc))
    write_json_atomic(plan.output_dir / COMPARE_JSON, doc)  # last: marks the comparison finished
    return doc

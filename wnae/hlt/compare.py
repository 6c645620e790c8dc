"""Compare HLT encoders on equal footing: each trained at each seed, all behind the same L1 seed.

Every encoder gets the same SM training events, objective, GMM, zero bias, L1 seed and HLT rate; the
L1 run scores the data once. Per encoder the table gives mean ± standard deviation over the seeds
of the two-level efficiency at the HLT rate, the purity, and the latency (ms/event) in TensorFlow and in
ONNX Runtime on one thread (what CMSSW's HLT runs). Per encoder and seed it then sets the two-level
efficiency at the HLT rate beside the L1 run alone tightened to the same rate, both with
Clopper–Pearson intervals, counts the signals where the two-level trigger keeps more, and follows
the purity S/B from the highest tabulated rate down to the HLT rate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wnae._io import atomic_path, output_dir, write_json_atomic
from wnae.config import load_config
from wnae.data.samples import SampleRole
from wnae.errors import ConfigError, ModelError
from wnae.evaluate.rates import binomial_interval
from wnae.evaluate.scores import load_scorer, score_samples
from wnae.hlt.config import CompareConfig, HltEvaluateConfig, HltTrainConfig
from wnae.hlt.evaluate import TwoLevelEvaluation, read_l1_seed, two_level_from_scores
from wnae.hlt.report import write_two_level

__all__ = ["EncoderSummary", "compare_encoders", "comparison_markdown", "l1_alone", "purity_rises", "seeds_ahead"]

logger = logging.getLogger(__name__)
#: Zero-bias events the latency is measured on.
TIMING_EVENTS = 2048


@dataclass
class EncoderSummary:
    """One encoder over its seeds."""

    encoder: str
    runs: list[str] = field(default_factory=list)
    parameters: int = 0
    efficiency: dict[str, list[float]] = field(default_factory=dict)  # signal → per seed, at the HLT rate
    purity: dict[str, list[float | None]] = field(default_factory=dict)
    efficiency_at: dict[float, dict[str, list[float]]] = field(default_factory=dict)  # rate → signal → per seed
    interval: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # signal → per seed (CP, HLT rate)
    purity_at: dict[float, dict[str, list[float | None]]] = field(default_factory=dict)  # rate → signal → per seed
    latency: list[dict[str, float]] = field(default_factory=list)
    onnx_latency: list[dict[str, float]] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)
    # rate → per seed: the effective zero-bias events above that rate's threshold, and whether it is resolved
    zb_effective_at: dict[float, list[float]] = field(default_factory=dict)
    resolved_at: dict[float, list[bool]] = field(default_factory=dict)

    def stats(self) -> dict[str, Any]:
        def ms(values: list[float]) -> dict[str, float]:
            v = np.asarray(values, float)
            return {
                "mean": float(v.mean()),
                "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                "min": float(v.min()),
                "max": float(v.max()),
            }

        out: dict[str, Any] = {
            "encoder": self.encoder,
            "runs": self.runs,
            "parameters": self.parameters,
            "efficiency": {k: {**ms(v), "per_seed": v} for k, v in self.efficiency.items()},
            "efficiency_at_rate_khz": {
                f"{r:g}": {k: {**ms(v), "per_seed": v} for k, v in e.items()} for r, e in self.efficiency_at.items()
            },
        }
        out["purity"] = {
            k: {**(ms([x for x in v if x is not None]) if any(x is not None for x in v) else {}), "per_seed": v}
            for k, v in self.purity.items()
        }
        out["interval"] = {k: [list(i) for i in v] for k, v in self.interval.items()}
        out["purity_at_rate_khz"] = {
            f"{r:g}": {
                k: {**(ms([x for x in v if x is not None]) if any(x is not None for x in v) else {}), "per_seed": v}
                for k, v in p.items()
            }
            for r, p in sorted(self.purity_at.items(), reverse=True)
        }
        if self.latency:
            out["latency_ms"] = {k: ms([d[k] for d in self.latency]) for k in ("batch1_ms", "batched_ms")}
        if self.onnx_latency:
            out["onnx_latency"] = {k: ms([d[k] for d in self.onnx_latency]) for k in self.onnx_latency[0]}
        out["train_seconds"] = ms(self.train_seconds) if self.train_seconds else None
        out["zb_effective_above_at_rate_khz"] = {
            f"{r:g}": {**ms(v), "per_seed": v, "resolved_per_seed": self.resolved_at[r]}
            for r, v in sorted(self.zb_effective_at.items(), reverse=True)
        }
        return out


def _record(summary: EncoderSummary, ev: TwoLevelEvaluation, rate: float, table_rates: list[float]) -> None:
    for r, wp in ev.rate_point_wps.items():
        summary.zb_effective_at.setdefault(r, []).append(float(wp.n_zb_effective_above))
        summary.resolved_at.setdefault(r, []).append(bool(wp.resolved))
    for name, s in ev.signals.items():
        summary.efficiency.setdefault(name, []).append(s.efficiency[0])
        summary.interval.setdefault(name, []).append((s.efficiency[1], s.efficiency[2]))
        summary.purity.setdefault(name, []).append(s.purity.get(rate))
        for r, value in s.purity.items():
            summary.purity_at.setdefault(r, {}).setdefault(name, []).append(value)
        for r in (r for r in table_rates if r in s.efficiency_at):  # (rates below the seed's)
            summary.efficiency_at.setdefault(r, {}).setdefault(name, []).append(s.efficiency_at[r])


def _efficiency_table(summaries: list[EncoderSummary], ev: TwoLevelEvaluation, rate: float | None) -> list[str]:
    """One row per encoder: efficiency mean ± std over seeds at ``rate`` (None: the HLT rate)."""
    signals = list(summaries[0].efficiency)
    r = ev.config.hlt_rate_khz if rate is None else rate
    rows = [
        "| encoder | parameters | "
        + " | ".join(signals)
        + " | ms/event (batch 1) | ms/event (batched) | ONNX Runtime ms/event (batch 1, 1 thread) |",
        "|---|---:|" + "---:|" * (len(signals) + 3),
        "| L1 seed alone | – | "
        + " | ".join(f"{ev.signals[s].seed_efficiency:.4f}" for s in signals)
        + " | – | – | – |",
        f"| L1 run alone at {r:g} kHz | – | "
        + " | ".join(f"{ev.signals[s].raw_l1_at[r]:.4f}" for s in signals)
        + " | – | – | – |",
    ]
    for summ in summaries:
        st = summ.stats()
        eff = st["efficiency"] if rate is None else st["efficiency_at_rate_khz"][f"{rate:g}"]
        cells = [f"{eff[s]['mean']:.4f} ± {eff[s]['std']:.4f}" for s in signals]
        lat = st.get("latency_ms", {})
        b1 = f"{lat['batch1_ms']['mean']:.2f}" if lat else "–"
        bb = f"{lat['batched_ms']['mean']:.3f}" if lat else "–"
        onnx = st.get("onnx_latency", {})
        ob = f"{onnx['onnx_batch1_ms']['mean']:.3f}" if onnx else "–"
        rows.append(
            f"| {summ.encoder} ({len(summ.runs)} seeds) | {summ.parameters:,} | "
            + " | ".join(cells)
            + f" | {b1} | {bb} | {ob} |"
        )
    return rows


def l1_alone(ev: TwoLevelEvaluation, rate: float | None = None) -> dict[str, tuple[float, float, float]]:
    """Signal → the L1 run alone tightened to ``rate`` (default the HLT rate): ``(ε, low, high)`` (Clopper–Pearson)."""
    r = ev.config.hlt_rate_khz if rate is None else rate
    out = {}
    for name, s in ev.signals.items():
        eff, n = s.raw_l1_at[r], round(s.n_generated)
        lo, hi = binomial_interval(round(eff * n), n, ev.config.confidence_level)
        out[name] = (eff, float(lo), float(hi))
    return out


def _signal_names(ev: TwoLevelEvaluation) -> list[str]:
    """The signals (role ``signal``; not the unseen SM samples, which are shown but not counted)."""
    return [name for name, s in ev.signals.items() if s.role == SampleRole.SIGNAL.value]


def seeds_ahead(summary: EncoderSummary, ev: TwoLevelEvaluation) -> list[list[str]]:
    """Per seed of ``summary``, the signals where the two-level efficiency at the HLT rate exceeds the L1 run alone's."""
    alone = l1_alone(ev)
    return [[n for n in _signal_names(ev) if summary.efficiency[n][i] > alone[n][0]] for i in range(len(summary.runs))]


def purity_rises(summary: EncoderSummary, names: list[str], high: float, low: float) -> dict[str, bool | None]:
    """Signal → whether the seed-mean S/B (equal weights) at ``low`` kHz exceeds that at ``high`` kHz (None: B = 0)."""
    out: dict[str, bool | None] = {}
    for name in names:
        means = []
        for r in (high, low):
            values = [v for v in summary.purity_at.get(r, {}).get(name, []) if v is not None]
            means.append(float(np.mean(values)) if values else None)
        out[name] = None if None in means else bool(means[1] > means[0])  # type: ignore[operator]
    return out


def _per_seed_section(summaries: list[EncoderSummary], ev: TwoLevelEvaluation) -> list[str]:
    signals = list(summaries[0].efficiency)
    counted = _signal_names(ev)
    rate = ev.config.hlt_rate_khz
    alone = l1_alone(ev)
    level = f"{100 * ev.config.confidence_level:.4g} %"
    lines = [
        "",
        f"## Per seed at {rate:g} kHz: the two-level trigger against the L1 run alone at {rate:g} kHz",
        "",
        f"Efficiency in % [Clopper–Pearson {level}]; ▲ where the two-level trigger keeps more than the L1 run "
        "alone tightened to the same rate, ▲▲ where even its lower bound is above the L1 run's upper bound; "
        f"'ahead' counts the {len(counted)} signals (not the SM samples no model trained on).",
        "",
        "| run | " + " | ".join(signals) + " | ahead |",
        "|---|" + "---:|" * (len(signals) + 1),
        f"| L1 run alone at {rate:g} kHz | "
        + " | ".join(f"{100 * alone[n][0]:.2f} [{100 * alone[n][1]:.2f}, {100 * alone[n][2]:.2f}]" for n in signals)
        + " | – |",
    ]
    for summ in summaries:
        for i, (run, ahead) in enumerate(zip(summ.runs, seeds_ahead(summ, ev), strict=True)):
            cells = []
            for n in signals:
                eff, (lo, hi) = summ.efficiency[n][i], summ.interval[n][i]
                mark = " ▲▲" if lo > alone[n][2] else " ▲" if n in ahead else ""
                cells.append(f"{100 * eff:.2f} [{100 * lo:.2f}, {100 * hi:.2f}]{mark}")
            lines.append(f"| {run} | " + " | ".join(cells) + f" | {len(ahead)}/{len(counted)} |")
        mean_ahead = [n for n in counted if np.mean(summ.efficiency[n]) > alone[n][0]]
        lines.append(
            f"| **{summ.encoder}, mean over {len(summ.runs)} seeds** | "
            + " | ".join(
                f"{100 * np.mean(summ.efficiency[n]):.2f}" + (" ▲" if n in mean_ahead else "") for n in signals
            )
            + f" | {len(mean_ahead)}/{len(counted)} |"
        )
    return lines


def _purity_trend_section(summaries: list[EncoderSummary], ev: TwoLevelEvaluation) -> list[str]:
    signals = list(summaries[0].efficiency)
    rates = sorted({r for s in summaries for r in s.purity_at}, reverse=True)
    low = ev.config.hlt_rate_khz
    high = rates[0] if rates and rates[0] > low else None
    lines = [
        "",
        "## Purity S/B (equal weights) along the HLT rate",
        "",
        "Mean over the seeds where B > 0, at each HLT rate"
        + (
            f"; ↑ where S/B at {low:g} kHz is above S/B at {high:g} kHz (the purity rises as the rate falls), "
            "↓ where it is not."
            if high is not None
            else "."
        ),
        "",
        "| encoder | rate (kHz) | " + " | ".join(signals) + " |",
        "|---|---:|" + "---:|" * len(signals),
    ]
    for summ in summaries:
        st = summ.stats()["purity_at_rate_khz"]
        for r in rates:
            cells = [
                f"{st[f'{r:g}'][n]['mean']:.3g}" if "mean" in st[f"{r:g}"].get(n, {}) else "B = 0" for n in signals
            ]
            lines.append(f"| {summ.encoder} | {r:g} | " + " | ".join(cells) + " |")
        if high is None:
            continue
        rises = purity_rises(summ, signals, high, low)
        n_rise = sum(rises[n] is True for n in _signal_names(ev))
        lines.append(
            f"| {summ.encoder}: {n_rise}/{len(_signal_names(ev))} signals rise {high:g} → {low:g} kHz | | "
            + " | ".join("↑" if rises[n] else "–" if rises[n] is None else "↓" for n in signals)
            + " |"
        )
    return lines


def _zb_support(summaries: list[EncoderSummary], rate: float) -> str:
    """How many effective zero-bias events the runs' thresholds at ``rate`` rest on, over every run."""
    n = [x for summ in summaries for x in summ.zb_effective_at.get(rate, [])]
    resolved = [x for summ in summaries for x in summ.resolved_at.get(rate, [])]
    if not n:
        return "no threshold"
    unresolved = resolved.count(False)
    return f"thresholds from {min(n):.0f}–{max(n):.0f} effective ZB events over the {len(n)} runs" + (
        f", {unresolved} not resolved" if unresolved else ""
    )


def comparison_markdown(
    summaries: list[EncoderSummary], ev: TwoLevelEvaluation, table_rates: list[float] | None = None
) -> str:
    """The comparison tables (efficiency at the HLT rate and at ``table_rates``, mean ± std over seeds),
    the purity and the latencies."""
    signals = list(summaries[0].efficiency)
    lines = [
        f"# HLT encoders behind L1 `{ev.l1_run}` {ev.seed.name} ({ev.trigger.l1_rate_khz:.3g} kHz)",
        "",
        "Two-level efficiency S(t)/S0 (S0 before the L1 seed), mean ± standard deviation over the seeds; the "
        f"first row is the L1 seed alone at {ev.trigger.l1_rate_khz:.3g} kHz.",
        "",
        f"## At {ev.config.hlt_rate_khz:g} kHz ({_zb_support(summaries, ev.config.hlt_rate_khz)})",
        "",
        *_efficiency_table(summaries, ev, None),
    ]
    for rate in (r for r in table_rates or [] if r in ev.rate_point_wps):
        lines += [
            "",
            f"## At {rate:g} kHz ({_zb_support(summaries, rate)})",
            "",
            *_efficiency_table(summaries, ev, rate),
        ]
    lines += [
        "",
        f"Purity S/B (equal weights) at {ev.config.hlt_rate_khz:g} kHz, mean over the seeds where B > 0:",
        "",
        "| encoder | " + " | ".join(signals) + " |",
        "|---|" + "---:|" * len(signals),
    ]
    for summ in summaries:
        st = summ.stats()
        cells = [f"{st['purity'][s]['mean']:.3g}" if "mean" in st["purity"][s] else "B = 0" for s in signals]
        lines.append(f"| {summ.encoder} | " + " | ".join(cells) + " |")
    lines += _per_seed_section(summaries, ev)
    lines += _purity_trend_section(summaries, ev)
    return "\n".join(lines) + "\n"


def _planned_runs(
    compare: CompareConfig, runs_dir: Path, config_dir: Path, retrain: bool
) -> list[tuple[str, list[tuple[HltTrainConfig, bool]]]]:
    """Every encoder's training config at every seed, and whether it trains (or its run is reused).

    Checked before anything trains: a run of the same name with another config is an error unless
    ``retrain`` (it is a finished run, with its own ``two_level/`` results).
    """
    from wnae.config import dump_config
    from wnae.hlt.model import CONFIG_FILE

    plan = []
    for kind, config_path in compare.encoders.items():
        runs = []
        for s in compare.seeds:
            overrides: dict[str, Any] = {"seed": s, "name": f"{kind}-s{s}"}
            if compare.epochs is not None:
                overrides["epochs"] = compare.epochs
            if compare.max_train_events is not None:
                overrides["max_train_events"] = compare.max_train_events
            cfg = load_config(config_dir / config_path, HltTrainConfig, overrides=overrides)
            if cfg.encoder.kind != kind:
                msg = f"{config_path}: encoder.kind is '{cfg.encoder.kind}', listed under '{kind}'"
                raise ConfigError(msg)
            run_dir = runs_dir / cfg.run_name
            if retrain or not run_dir.exists():
                runs.append((cfg, True))
                continue
            config_file = run_dir / CONFIG_FILE
            if not (config_file.is_file() and config_file.read_text() == dump_config(cfg)):
                msg = (
                    f"{run_dir} exists with another config than the comparison's {kind} at seed {s}: pass "
                    "--retrain to replace it (its two_level/ results too), or compare in another --runs-dir"
                )
                raise ModelError(msg)
            runs.append((cfg, False))
        plan.append((kind, runs))
    return plan


def compare_encoders(
    compare: CompareConfig,
    l1_run_dir: str | Path,
    data_dir: str | Path,
    eval_cfg: HltEvaluateConfig,
    runs_dir: str | Path = "hlt_runs",
    *,
    output: str | Path | None = None,
    retrain: bool = False,
    timing: bool = True,
    config_dir: str | Path = ".",
) -> list[EncoderSummary]:
    """Train (or reuse) every encoder at every seed, evaluate each behind the L1 seed, write the comparison.

    A run directory that exists with the same resolved config is reused unless ``retrain``; one with
    another config is an error unless ``retrain``. Relative training-config paths are taken from
    ``config_dir`` (the comparison file's directory). Everything is checked before anything trains,
    and a failed comparison leaves no output directory it created behind.
    """
    from wnae.data.io import read_events
    from wnae.data.samples import load_manifest
    from wnae.hlt.model import load_hlt_run
    from wnae.hlt.onnx import measure_onnx_latency
    from wnae.hlt.timing import measure_latency
    from wnae.hlt.train import train_hlt

    runs_dir, data_dir = Path(runs_dir), Path(data_dir)
    table_rates = [r for r in compare.table_rates_khz if r != eval_cfg.hlt_rate_khz]
    missing = [r for r in table_rates if r not in eval_cfg.rate_points_khz]
    if missing:
        msg = f"table_rates_khz {missing} are not among the evaluation's rate_points_khz {eval_cfg.rate_points_khz}"
        raise ConfigError(msg)
    seed = read_l1_seed(l1_run_dir, eval_cfg.l1_working_point)
    plan = _planned_runs(compare, runs_dir, Path(config_dir), retrain)
    with output_dir(Path(output) if output is not None else runs_dir / "comparison") as out_dir:
        l1_scores = score_samples(load_scorer(l1_run_dir), data_dir, chunk_events=eval_cfg.chunk_events)
        zb = next(s for s in load_manifest(data_dir) if s.role is SampleRole.ZERO_BIAS)
        timing_events = read_events(zb.path(data_dir), stop=TIMING_EVENTS, with_pf=True)
        assert timing_events.pf_cands is not None  # read with with_pf
        summaries, last = [], None
        for kind, runs in plan:
            summary = EncoderSummary(kind)
            for cfg, needs_training in runs:
                run_dir = runs_dir / cfg.run_name
                if needs_training:
                    train_hlt(cfg, data_dir, runs_dir, replace=retrain)
                else:
                    logger.info("reusing %s (same config)", run_dir)
                run = load_hlt_run(run_dir)
                hlt_scores = score_samples(run, data_dir, chunk_events=eval_cfg.chunk_events)
                ev = two_level_from_scores(l1_scores, hlt_scores, seed, eval_cfg, hlt_info=run.info)
                write_two_level(
                    ev, run_dir / eval_cfg.output_name, plots=False
                )  # the tables; 'wnae hlt evaluate' draws
                _record(summary, ev, eval_cfg.hlt_rate_khz, table_rates)
                summary.runs.append(run.name)
                summary.parameters = int(run.info.get("parameters", 0))
                summary.train_seconds.append(float(run.info.get("train_seconds", np.nan)))
                if timing:
                    raw = timing_events.pf_cands if run.config.encoder.reads_pf else timing_events.particles
                    summary.latency.append(measure_latency(run, raw).to_dict())
                    summary.onnx_latency.append(measure_onnx_latency(run, raw))
                last = ev
                logger.info("%s: %s", run.name, {k: round(v.efficiency[0], 4) for k, v in ev.signals.items()})
            summaries.append(summary)
        write_json_atomic(
            out_dir / "comparison.json",
            {
                "l1_run": seed.run,
                "l1_working_point": seed.name,
                "hlt_rate_khz": eval_cfg.hlt_rate_khz,
                "seeds": compare.seeds,
                "table_rates_khz": table_rates,
                "encoders": [s.stats() for s in summaries],
                "l1_alone": {k: list(v) for k, v in l1_alone(last).items()} if last is not None else {},
                "ahead_of_l1_alone": {s.encoder: seeds_ahead(s, last) for s in summaries} if last is not None else {},
            },
        )
        assert last is not None  # the config names at least one encoder and one seed
        with atomic_path(out_dir / "comparison.md") as tmp:
            tmp.write_text(comparison_markdown(summaries, last, table_rates))
    return summaries

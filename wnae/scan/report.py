"""The scan's outputs: ``pareto.json`` / ``pareto.md`` (every candidate), ``pareto.png``, ``chosen.yml``.

Every number says where it comes from: the efficiencies from ``wnae evaluate``'s code on the
candidate's run, latency and the LUT estimate from da4ml, LUT/FF/DSP/BRAM from Yosys for the front
designs it synthesised.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wnae._io import atomic_path, write_json_atomic

if TYPE_CHECKING:
    from wnae.scan.state import ScanResult

__all__ = ["candidate_records", "write_scan_outputs"]

logger = logging.getLogger(__name__)


def _pct(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f}"


def candidate_records(
    setup: Any, paths: Any, candidates: Sequence[Any], synth_errors: dict[str, str]
) -> dict[str, dict]:
    """id → the table row of each candidate (numbers, sources, budget verdict)."""
    from wnae.firmware.parts import part_capacity
    from wnae.scan.front import budget_check, load_synthesis
    from wnae.scan.space import apply_parameters
    from wnae.scan.state import meets_latency_and_ii

    target = setup.target
    capacity = part_capacity(target.part)
    confirming = setup.config.confirm.designs > 0
    records: dict[str, dict] = {}
    for cand in candidates:
        if cand.result is None:
            continue
        res = cand.result
        rec: dict[str, Any] = {
            "id": cand.id,
            "status": res["status"],
            "params": cand.params,
            "baseline": setup.config.baseline and cand.id == "c000",
            "wall_s": res.get("wall_s"),
            # the design (base, fixed and parameters), as chosen.yml would hold it
            "config": apply_parameters(setup.base, cand.params),
        }
        if not cand.ok:
            rec["error"] = res.get("error", "")
            records[cand.id] = rec
            continue
        conf = cand.confirmation if cand.confirmed else None
        cost = dict(res["cost"])
        runs = list(res.get("seeds", []))
        if conf is not None:  # the latency is the worst over every seed trained
            runs += conf.get("seeds", [])
            worst = max([res["cost"], conf["cost"]], key=lambda c: c["latency_cycles"])
            cost.update({k: worst[k] for k in ("latency_cycles", "latency_ns", "adder_depth")})
        rtl = load_synthesis(paths.hls_projects, res["run"], target.name)
        check = budget_check({"cost": cost}, target, rtl)
        judged = conf if conf is not None else res
        yosys: dict[str, Any] | None = None
        if rtl is not None:
            assert rtl.resources is not None  # load_synthesis returns only designs with Yosys numbers
            yosys = dict(rtl.resources)
        lut = yosys["lut"] if yosys else cost["lut_estimate"]
        rec.update(
            {
                # what the design is judged by: the confirmation's numbers where it was confirmed, else the search's
                "objective": judged["objective"],
                "objective_std": judged.get("objective_std", 0.0),
                "efficiency": judged["efficiency"],
                "auc": judged.get("auc", {}),
                "confirmed": conf is not None,
                "eligible": conf is not None or not confirming,
                "search_objective": res["objective"],
                "search_objective_std": res.get("objective_std", 0.0),
                "search_efficiency": res["efficiency"],
                "seeds": [r["seed"] for r in res.get("seeds", [])],
                "confirm_seeds": [r["seed"] for r in conf.get("seeds", [])] if conf else [],
                "latency_by_seed": [r["cost"]["latency_cycles"] for r in runs],
                "run": res["run"],
                "latency_cycles": cost["latency_cycles"],
                "latency_ns": cost["latency_ns"],
                "ii_cycles": cost["ii_cycles"],
                "adder_depth": cost["adder_depth"],
                "lut_estimate": cost["lut_estimate"],
                "ff_estimate": cost["register_bits"],
                "timing_source": cost["timing_source"] + ("" if rtl is None else " (checked by Verilator simulation)"),
                "estimate_source": cost["resource_source"],
                "yosys": yosys,
                "lut": lut,
                "lut_fraction": lut / capacity.lut if capacity else None,
                "ff": yosys["ff"] if yosys else cost["register_bits"],
                "dsp": yosys["dsp"] if yosys else 0,
                "bram_18k": yosys["bram_18k"] if yosys else 0,
                "resources_source": yosys["source"] if yosys else f"{cost['resource_source']} (FF: pipeline registers)",
                "meets_latency_ii": meets_latency_and_ii({"cost": cost}, target),
                "budget_verdict": check.verdict,
                "within_budget": check.within,
                "budget_numbers": check.resources_from,
                "kernel_sparsity": res.get("kernel_sparsity", {}),
                "seconds": res.get("seconds", {}),
            }
        )
        if cand.id in synth_errors:
            rec["synth_error"] = synth_errors[cand.id]
        records[cand.id] = rec
    return records


def _header(setup: Any, signals: list[str], front: list[str], summary: dict) -> list[str]:
    cfg, target = setup.config, setup.target
    budget = target.budget
    return [
        f"# Design scan `{summary['name']}`",
        "",
        (
            f"Base `{cfg.base}`, target `{target.name}` ({target.part}, {target.clock_period_ns:g} ns clock; budget: "
            f"latency ≤ {budget.latency_ns} ns, II ≤ {budget.ii_ns} ns, LUT ≤ {_pct(budget.lut_fraction)} %). "
            f"Objective: mean efficiency at **{cfg.objective.working_point}** over {', '.join(signals)} (zero-bias "
            f"calibrated, `wnae evaluate`'s code), averaged over training seeds {cfg.seeds or 'of the base'}"
            + (
                f"; the first Pareto layers and the base ({summary['confirmed']} designs) retrained on fresh seeds "
                f"{cfg.confirm.seeds}, and the front drawn and the design chosen on those. "
                if cfg.confirm.designs
                else ". "
            )
            + f"{summary['finished']} candidates ({summary['ok']} trained, {summary['failed']} failed), "
            f"{len(front)} on the Pareto front, {summary['synthesised']} synthesised with Yosys."
        ),
        "",
        (
            f"Sources: efficiencies from each candidate's runs (schedule overrides `{cfg.brief or 'none'}`); latency = "
            "da4ml pipeline stages, the worst over the seeds (exact for the RTL `wnae rtl` writes); LUT (est.) = da4ml "
            "cost estimate, mean over the seeds; LUT/FF/DSP (Yosys) = `synth_xilinx` of the first seed's bit-exact RTL."
        ),
        "",
    ]


def _comparison(records: dict[str, dict], chosen: str | None) -> list[str]:
    lines = []
    base = next((r for r in records.values() if r.get("baseline") and r["status"] == "ok"), None)
    if base is not None:
        better = [
            cid
            for cid, r in records.items()
            if r["status"] == "ok"
            and r["eligible"]
            and r["meets_latency_ii"]
            and not r["baseline"]
            and r["objective"] >= base["objective"]
            and r["lut_estimate"] < base["lut_estimate"]
        ]
        fits = "meets" if base["meets_latency_ii"] else "does not meet"
        lines += [
            (
                f"Base design ({base['id']}{_judged(base)}): {_pct(base['objective'])} ± {_pct(base['objective_std'])} % at ≈ "
                f"{base['lut_estimate']:,.0f} LUT (est.), latency {_cycles(base)} cycles: it {fits} the latency "
                f"budget at every seed. Designs within the latency budget at least as efficient with fewer LUTs: "
                f"{', '.join(better) if better else 'none'}."
            ),
            "",
        ]
    if chosen is not None:
        c = records[chosen]
        lines += [
            (
                f"**Chosen: {chosen}**{_judged(c)} — {_pct(c['objective'])} ± {_pct(c['objective_std'])} % at "
                f"{c['lut']:,.0f} LUT ({c['resources_source']}), {c['latency_cycles']} cycles = "
                f"{c['latency_ns']:g} ns; train config `chosen.yml`."
            ),
            "",
        ]
    else:
        lines += ["**No design on the front passes the budget check**: no `chosen.yml`.", ""]
    return lines


def _judged(r: dict) -> str:
    return f", confirmed on seeds {r['confirm_seeds']}" if r.get("confirmed") else ""


def _cycles(r: dict) -> str:
    return "/".join(str(c) for c in r.get("latency_by_seed") or [r["latency_cycles"]])


def _front_table(
    cfg: Any, records: dict[str, dict], front: list[str], chosen: str | None, signals: list[str]
) -> list[str]:
    wp = cfg.objective.working_point
    params = list(cfg.parameters)
    columns = [
        "id",
        *(f"`{p}`" for p in params),
        f"ε {wp} (%)",
        *signals,
        f"ε {wp} in the search (%)",
        "latency (cycles)",
        "LUT (est.)",
        "LUT (Yosys)",
        "FF",
        "DSP",
        "budget",
    ]
    lines = ["## Pareto front", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for cid in front:
        r = records[cid]
        eff = r["efficiency"][wp]
        yosys = r["yosys"]
        mark = " ★" if cid == chosen else (" (base)" if r["baseline"] else "")
        cells = [
            f"{cid}{mark}",
            *(str(r["params"][p]) for p in params),
            f"{_pct(r['objective'])} ± {_pct(r['objective_std'])}",
            *(_pct(eff.get(s)) for s in signals),
            f"{_pct(r['search_objective'])} ± {_pct(r['search_objective_std'])}",
            _cycles(r),
            f"{r['lut_estimate']:,.0f}",
            f"{yosys['lut']:,}" if yosys else r.get("synth_error", "not run")[:80].replace("|", "/"),
            f"{r['ff']:,.0f}",
            f"{r['dsp']:g}",
            f"{r['budget_verdict']} ({r['budget_numbers']})",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _all_table(records: dict[str, dict], front: list[str], wps: list[str]) -> list[str]:
    columns = [
        "id",
        "status",
        *(f"ε {w} (mean %)" for w in wps),
        "confirmed objective (%)",
        "latency (cycles)",
        "adder levels",
        "LUT (est.)",
        "FF (est.)",
        "front",
        "wall (s)",
    ]
    lines = ["## Every candidate", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for cid in sorted(records):
        r = records[cid]
        if r["status"] != "ok":
            error = r["error"].replace("|", "/").replace("\n", " ")[:160]
            lines.append(f"| {cid} | failed: {error} |" + " |" * (len(columns) - 2))
            continue
        means = [sum(v.values()) / len(v) for v in r["search_efficiency"].values()]
        over = "" if r["meets_latency_ii"] else " (over)"
        confirmed = f"{_pct(r['objective'])} ± {_pct(r['objective_std'])}" if r["confirmed"] else ""
        cells = [
            f"{cid}{' (base)' if r['baseline'] else ''}",
            "ok",
            *(_pct(m) for m in means),
            confirmed,
            _cycles(r) + over,
            f"{r['adder_depth']:g}",
            f"{r['lut_estimate']:,.0f}",
            f"{r['ff_estimate']:,}",
            "yes" if cid in front else "",
            f"{r['wall_s'] or 0:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _markdown(setup: Any, records: dict[str, dict], front: list[str], chosen: str | None, summary: dict) -> str:
    cfg = setup.config
    wp = cfg.objective.working_point
    trained = [r for r in records.values() if "efficiency" in r]
    signals = cfg.objective.signals or sorted(trained[0]["efficiency"][wp] if trained else [])
    wps = list(trained[0]["efficiency"]) if trained else [wp]
    lines = [
        *_header(setup, signals, front, summary),
        *_comparison(records, chosen),
        *_front_table(cfg, records, front, chosen, signals),
        "",
        *_all_table(records, front, wps),
    ]
    return "\n".join(lines) + "\n"


def _plot(setup: Any, records: dict[str, dict], front: list[str], chosen: str | None, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    from wnae.firmware.parts import part_capacity

    wp = setup.config.objective.working_point
    capacity = part_capacity(setup.target.part)
    ok = [r for r in records.values() if r["status"] == "ok"]
    fig, ax = plt.subplots(figsize=(10.5, 5.2))
    cycles = sorted({r["latency_cycles"] for r in ok})
    colours = ["C0", "C2", "C1", "C4", "C5", "C6"]
    for i, n in enumerate(cycles):
        group = [r for r in ok if r["latency_cycles"] == n]
        over = not group[0]["meets_latency_ii"]
        ax.scatter(
            [r["lut_estimate"] for r in group],
            [100 * r["search_objective"] for r in group],
            s=28,
            color="0.35" if over else colours[i % len(colours)],
            marker="x" if over else "o",
            alpha=0.85,
            label=f"{n} cycle{'s' if n > 1 else ''} = {n * setup.target.clock_period_ns:g} ns"
            + (" (over the latency budget)" if over else ""),
        )
    conf = [r for r in ok if r["confirmed"]]
    if conf:
        ax.scatter(
            [r["lut_estimate"] for r in conf],
            [100 * r["objective"] for r in conf],
            marker="D",
            s=36,
            facecolors="none",
            edgecolors="k",
            zorder=4,
            label="confirmed on fresh seeds (line: from the search)",
        )
        for r in conf:
            ax.plot(
                [r["lut_estimate"]] * 2,
                [100 * r["search_objective"], 100 * r["objective"]],
                color="k",
                lw=0.5,
                alpha=0.5,
            )
    f = sorted((records[c] for c in front), key=lambda r: r["lut_estimate"])
    ax.step(
        [r["lut_estimate"] for r in f],
        [100 * r["objective"] for r in f],
        where="post",
        color="k",
        lw=1,
        label="Pareto front (da4ml estimate)",
    )
    ax.errorbar(
        [r["lut_estimate"] for r in f],
        [100 * r["objective"] for r in f],
        yerr=[100 * r["objective_std"] for r in f],
        fmt="none",
        ecolor="k",
        elinewidth=0.8,
        capsize=3,
        label="front: spread over the seeds",
    )
    ys = [r for r in f if r["yosys"]]
    if ys:
        ax.scatter(
            [r["yosys"]["lut"] for r in ys],
            [100 * r["objective"] for r in ys],
            marker="s",
            facecolors="none",
            edgecolors="C3",
            s=50,
            label="front, Yosys LUT",
        )
        for r in ys:
            ax.plot([r["lut_estimate"], r["yosys"]["lut"]], [100 * r["objective"]] * 2, color="C3", lw=0.6, alpha=0.6)
    base = [r for r in ok if r["baseline"]]
    if base:
        ax.scatter(
            [base[0]["lut_estimate"]],
            [100 * base[0]["objective"]],
            marker="*",
            s=220,
            color="C1",
            edgecolors="k",
            zorder=5,
            label=f"base design ({base[0]['id']}, {_cycles(base[0])} cycles by seed)",
        )
    if chosen is not None:
        c = records[chosen]
        ax.scatter(
            [c["lut"]],
            [100 * c["objective"]],
            marker="o",
            s=260,
            facecolors="none",
            edgecolors="C2",
            lw=2,
            zorder=6,
            label=f"chosen ({chosen})",
        )
    if capacity is not None:
        budget = setup.target.budget.lut_fraction
        if budget:
            ax.axvline(
                budget * capacity.lut,
                color="C3",
                ls="--",
                lw=1,
                label=f"LUT budget {100 * budget:g} % of {capacity.device}",
            )
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    if capacity is not None:  # a twin, not secondary_xaxis: that one resets its tick labels at every draw
        top = ax.twiny()
        top.set_xscale("log")
        lo, hi = (100 * v / capacity.lut for v in ax.get_xlim())
        top.set_xlim(lo, hi)
        ticks = [t for t in (0.1, 0.2, 0.3, 0.5, 1, 2, 3, 5, 10, 20, 30, 50, 100) if lo <= t <= hi]
        top.set_xticks(ticks, [f"{t:g}" for t in ticks])
        top.xaxis.set_minor_formatter(NullFormatter())
        top.set_xlabel(f"% of the {capacity.device} LUTs")
    ax.set_xlabel("LUT (da4ml estimate; squares: Yosys)")
    ax.set_ylabel(f"mean signal efficiency at {wp} (%)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=130, format="png")
    plt.close(fig)


def _write_chosen(setup: Any, record: dict, path: Path, name: str) -> None:
    from wnae.config import dump_config
    from wnae.scan.space import apply_parameters, train_config

    cfg = train_config(apply_parameters(setup.base, record["params"]), source=f"chosen design {record['id']}")
    header = (
        f"# The design chosen by `wnae scan` ({name}, candidate {record['id']}): mean efficiency "
        f"{_pct(record['objective'])} % at {setup.config.objective.working_point} after the scan's brief "
        f"schedule,\n# {record['lut']:,.0f} LUT ({record['resources_source']}), {record['latency_cycles']} cycles "
        f"= {record['latency_ns']:g} ns on {setup.target.name}. The base's full schedule; train it with\n"
        f"#   python -m wnae train --config {path}\n"
    )
    with atomic_path(path) as tmp:
        tmp.write_text(header + dump_config(cfg))


def write_scan_outputs(setup: Any, paths: Any, candidates: Sequence[Any], *, synthesize: bool, jobs: int) -> ScanResult:
    """Front, Yosys on it, budget checks, the chosen design; ``pareto.{json,md,png}`` and ``chosen.yml``."""
    from wnae.scan.front import choose, pareto_front, synthesise_front
    from wnae.scan.state import ScanResult

    cfg = setup.config
    ok = [c for c in candidates if c.ok]
    synth_errors: dict[str, str] = {}
    records = candidate_records(setup, paths, candidates, synth_errors)
    # the front of the designs judged fairly: within the latency and II budget at every seed, and confirmed on
    # fresh seeds when the scan confirms
    front = pareto_front(
        [
            (cid, r["objective"], r["lut_estimate"])
            for cid, r in records.items()
            if r["status"] == "ok" and r["eligible"] and r["meets_latency_ii"]
        ]
    )
    if synthesize and cfg.synth.designs > 0 and front:
        # the designs that can be chosen first (within budget by the estimate), most efficient first
        order = sorted(front, key=lambda cid: (not records[cid]["within_budget"], -records[cid]["objective"]))
        synth_errors = synthesise_front(
            {cid: records[cid]["run"] for cid in order[: cfg.synth.designs]},
            runs_dir=paths.runs,
            hls_projects=paths.hls_projects,
            logs_dir=paths.candidates,
            data_dir=setup.data_dir,
            target_ref=setup.target_ref,
            target_name=setup.target.name,
            jobs=jobs,
            events=cfg.synth.events,
            timeout_min=cfg.synth.timeout_min,
            yosys=cfg.synth.yosys,
        )
        records = candidate_records(setup, paths, candidates, synth_errors)
    chosen = choose(front, records, cfg.select.tolerance)
    for cid, rec in records.items():
        rec["on_front"] = cid in front
        rec["chosen"] = cid == chosen
    summary = {
        "name": paths.root.name,
        "finished": len(records),
        "ok": len(ok),
        "failed": len(records) - len(ok),
        "synthesised": sum(1 for r in records.values() if r.get("yosys")),
        "confirmed": sum(1 for r in records.values() if r.get("confirmed")),
        "front": front,
        "chosen": chosen,
        "objective": cfg.objective.model_dump(mode="json"),
        "target": setup.target.name,
        "part": setup.target.part,
    }
    written = []
    json_path = paths.root / "pareto.json"
    write_json_atomic(json_path, {**summary, "scan": cfg.model_dump(mode="json"), "candidates": records})
    md_path = paths.root / "pareto.md"
    with atomic_path(md_path) as tmp:
        tmp.write_text(_markdown(setup, records, front, chosen, summary))
    written += [json_path, md_path]
    if ok:
        png = paths.root / "pareto.png"
        _plot(setup, records, front, chosen, png)
        written.append(png)
    chosen_path = paths.root / "chosen.yml"
    if chosen is not None:
        _write_chosen(setup, records[chosen], chosen_path, paths.root.name)
        written.append(chosen_path)
    else:
        chosen_path.unlink(missing_ok=True)
    return ScanResult(paths.root, list(candidates), front, chosen, written)

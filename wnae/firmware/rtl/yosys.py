"""Yosys ``synth_xilinx`` on the da4ml Verilog: LUT, FF, CARRY, DSP and BRAM counts.

The script reads the design sources only — da4ml's static building blocks (``shift_adder.v``,
``negative.v``, ``mux.v``, ``multiplier.v``; ``lookup_table.v`` only when the design has tables),
the pipeline stages and the top module — never the simulation wrapper, and synthesises the top
module for the target's family (``xc7`` for 7-series, ``xcup`` for UltraScale+) with ``-noiopad``
(the network sits inside the trigger firmware, not on the chip's pins). The hierarchy is kept (no
``-flatten``): flattening a design of ~10⁴ adders made Yosys several times slower here and changes
LUT counts by little. ``-nodsp`` when the target wants no DSP (distributed arithmetic).

The counts are Yosys's technology mapping before placement, so they differ from Vivado's
post-synthesis numbers; the source label says so ("Yosys 0.70 synth_xilinx -family xc7").
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from wnae.errors import FirmwareError
from wnae.firmware.rtl.timing import netlist_path
from wnae.firmware.rtl.tools import YosysTool

__all__ = ["YosysResources", "count_resources", "run_yosys", "write_synth_script"]

logger = logging.getLogger(__name__)

SCRIPT_NAME = "synth.ys"
STAT_NAME = "yosys_stat.json"
LOG_NAME = "yosys.log"


@dataclass(frozen=True)
class YosysResources:
    """Cells after ``synth_xilinx``, grouped into the resources of a budget.

    Attributes:
        lut: LUT1–LUT6 (and SRL shift registers, which occupy LUTs).
        ff: flip-flops (FD*).
        carry: CARRY4 (7-series) / CARRY8 (UltraScale+) blocks.
        dsp: DSP48E1/DSP48E2 slices.
        bram_18k: block-RAM halves (RAMB18 = 1, RAMB36 = 2).
        uram: URAM288 blocks.
        cells: every cell type and its count.
        source: e.g. ``Yosys 0.70 synth_xilinx -family xc7 -noiopad``.
        seconds: wall time of the Yosys run.
        critical_path: the longest register-to-register path of the netlist (7-series only;
            :class:`~wnae.firmware.rtl.timing.PathTiming` as a dict with ``total_ns``), or ``None``.
    """

    lut: int
    ff: int
    carry: int
    dsp: int
    bram_18k: int
    uram: int
    cells: dict[str, int] = field(default_factory=dict)
    source: str = ""
    seconds: float = 0.0
    critical_path: dict[str, Any] | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def count_resources(cells: dict[str, int], source: str = "", seconds: float = 0.0) -> YosysResources:
    """Group Yosys cell counts (``{"LUT2": 120, "FDRE": 64, ...}``) into resources."""
    total: Counter[str] = Counter()
    for cell, n in cells.items():
        name = cell.lstrip("\\$")
        if name.startswith("LUT") or name.startswith(("SRL16", "SRLC32")):
            total["lut"] += n
        elif name.startswith("FD"):
            total["ff"] += n
        elif name.startswith("CARRY"):
            total["carry"] += n
        elif name.startswith("DSP48"):
            total["dsp"] += n
        elif name.startswith("RAMB18"):
            total["bram_18k"] += n
        elif name.startswith("RAMB36"):
            total["bram_18k"] += 2 * n
        elif name.startswith("URAM"):
            total["uram"] += n
    return YosysResources(
        lut=total["lut"],
        ff=total["ff"],
        carry=total["carry"],
        dsp=total["dsp"],
        bram_18k=total["bram_18k"],
        uram=total["uram"],
        cells=dict(cells),
        source=source,
        seconds=seconds,
    )


def _has_tables(rtl_dir: Path) -> bool:
    memfiles = rtl_dir / "src" / "memfiles"
    return memfiles.is_dir() and any(memfiles.glob("*"))


def design_sources(rtl_dir: Path, top: str) -> list[str]:
    """The Verilog files of the design (relative to ``rtl_dir``), wrapper and empty tables left out."""
    static = sorted((rtl_dir / "src" / "static").glob("*.v"))
    files = [p for p in static if p.name != "lookup_table.v" or _has_tables(rtl_dir)]
    stages = sorted((rtl_dir / "src").glob(f"{top}_stage*.v"), key=lambda p: int(p.stem.rsplit("stage", 1)[1]))
    files += [*stages, rtl_dir / "src" / f"{top}.v"]
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        msg = f"RTL sources missing in {rtl_dir}: {', '.join(missing)}"
        raise FirmwareError(msg)
    return [str(p.relative_to(rtl_dir)) for p in files]


#: The Yosys scratchpad key that turns ABC9's internal ``&verify`` pass on or off.
ABC9_VERIFY = "abc9.verify"
#: The flat netlist (Yosys JSON) the 7-series path timing reads; removed once timed (it is large).
NETLIST_NAME = "netlist.json"


def write_synth_script(rtl_dir: Path, top: str, family: str, *, use_dsp: bool = True) -> tuple[Path, str]:
    """Write ``synth.ys`` into ``rtl_dir``; return it and the synth command (for the source label)."""
    synth = f"synth_xilinx -family {family} -top {top} -noiopad" + ("" if use_dsp else " -nodsp")
    # a lookup table is a ROM of a few entries: mapped to LUT logic before synthesis, as Vivado maps a
    # distributed ROM (Yosys's xc7 LUTRAM map finds no cell for a ROM without a write port)
    tables = [f"hierarchy -top {top}", "proc", "memory -nomap", "memory_map", "opt"] if _has_tables(rtl_dir) else []
    lines = [
        "# written by wnae: Yosys synthesis of the da4ml design (not the simulation wrapper)",
        # -defer: elaborate each module only with its instances' parameters (a lookup table's
        # default MEM_FILE does not exist; its instances name their own .mem file)
        "read_verilog -defer " + " ".join(design_sources(rtl_dir, top)),
        *tables,
        # ABC9's own equivalence check of its LUT mapping (`&verify`, on by default): it checks ABC, not
        # the design, which Verilator simulates bit for bit (~10 % of the default model's synthesis)
        f"scratchpad -set {ABC9_VERIFY} 0",
        synth,
        f"tee -q -o {STAT_NAME} stat -json -top {top}",
        # the flat netlist, for the longest path with the 7-series cell delays (wnae.firmware.rtl.timing)
        *(["flatten", f"write_json {NETLIST_NAME}"] if family == "xc7" else []),
        "",
    ]
    script = rtl_dir / SCRIPT_NAME
    script.write_text("\n".join(lines))
    return script, synth


def _cells_from_stat(doc: dict, top: str) -> dict[str, int]:
    """Cell counts of the whole design (hierarchy included) from ``stat -json -top``."""
    design = doc.get("design")
    if isinstance(design, dict) and "num_cells_by_type" in design:
        return {k: int(v) for k, v in design["num_cells_by_type"].items()}
    modules = doc.get("modules", {})
    for name in (f"\\{top}", top):
        if name in modules:
            return {k: int(v) for k, v in modules[name].get("num_cells_by_type", {}).items()}
    msg = f"Yosys statistics have no design totals and no module {top!r}"
    raise FirmwareError(msg)


def copy_table_files(rtl_dir: Path) -> list[Path]:
    """Copy da4ml's lookup-table ``.mem`` files next to the script: the tables name them without a
    directory and ``$readmemh`` opens them from Yosys's working directory. Returns the copies."""
    memfiles = rtl_dir / "src" / "memfiles"
    copies = []
    for path in sorted(memfiles.glob("*.mem")) if memfiles.is_dir() else []:
        shutil.copyfile(path, rtl_dir / path.name)
        copies.append(rtl_dir / path.name)
    return copies


def run_yosys(
    rtl_dir: str | Path,
    top: str,
    family: str,
    tool: YosysTool,
    *,
    use_dsp: bool = True,
    timeout_s: float = 3600,
    hop_ns: float | None = None,
) -> YosysResources:
    """Synthesise ``top`` with Yosys in ``rtl_dir``; the log goes to ``yosys.log``.

    Raises:
        FirmwareError: Yosys failed or ran past ``timeout_s`` (the log's tail in the message).

    With ``hop_ns`` on a 7-series family, the flat netlist's longest path is timed too
    (:func:`~wnae.firmware.rtl.timing.netlist_path`, ``hop_ns`` of routing per net).
    """
    rtl_dir = Path(rtl_dir)
    script, synth = write_synth_script(rtl_dir, top, family, use_dsp=use_dsp)
    (rtl_dir / STAT_NAME).unlink(missing_ok=True)
    copy_table_files(rtl_dir)
    cmd = tool.command(script)
    log = rtl_dir / LOG_NAME
    logger.info("Yosys (%s): %s in %s (progress: tail -f %s)", tool.kind, synth, rtl_dir, log)
    start = time.perf_counter()
    with log.open("w") as out:  # streamed, so a long synthesis can be followed
        try:
            proc = subprocess.run(
                cmd, cwd=rtl_dir, stdout=out, stderr=subprocess.STDOUT, timeout=timeout_s, check=False
            )
        except subprocess.TimeoutExpired as exc:
            msg = f"Yosys ran past {timeout_s:.0f} s on {rtl_dir} (model too large for open-source synthesis here?)"
            raise FirmwareError(msg) from exc
    seconds = time.perf_counter() - start
    stat = rtl_dir / STAT_NAME
    if proc.returncode != 0 or not stat.is_file():
        tail = "\n".join(log.read_text(errors="replace").strip().splitlines()[-15:])
        msg = f"Yosys failed on {rtl_dir} (exit {proc.returncode}); log {log}:\n{tail}"
        raise FirmwareError(msg)
    cells = _cells_from_stat(json.loads(stat.read_text()), top)
    resources = count_resources(
        cells, source=f"{tool.version} {synth.replace(f' -top {top}', '')} ({tool.kind})", seconds=seconds
    )
    netlist = rtl_dir / NETLIST_NAME
    cells_sim = tool.cells_sim("xilinx")
    if netlist.is_file() and hop_ns is not None and cells_sim is not None:
        path = netlist_path(netlist, top, cells_sim, hop_ns=hop_ns)
        timed = {**asdict(path), "total_ns": round(path.total_ns, 6), "delays": str(cells_sim)}
        resources = replace(resources, critical_path=timed)
    elif netlist.is_file():
        logger.info("no cell timing (%s's cells_sim.v not found): the netlist's path is not timed", tool.kind)
    netlist.unlink(missing_ok=True)
    return resources

"""Vendor tools: find ``vivado_hls``/``vitis-run``/``vivado`` and run an hls4ml project's build with them.

The build runs the project's own ``build_prj.tcl`` (written by hls4ml) with exactly the command and
options hls4ml's ``VivadoBackend.build()``/``VitisBackend.build()`` use, but through
:func:`subprocess.Popen` in the project directory: the tool's output is streamed line by line to a
log file and to the logger (stage markers such as ``***** C/RTL SYNTHESIS *****`` at INFO), the
exit status is checked, and the process's working directory is never changed. (hls4ml's Vivado
``build()`` does ``os.chdir`` + ``os.system`` and ignores the exit status, so a failed synthesis
would go unnoticed.) The reports are then read with :func:`wnae.firmware.reports.parse_reports`,
which calls hls4ml's ``parse_vivado_report`` as ``build()`` does.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from wnae.errors import FirmwareError, ToolNotFoundError

__all__ = ["HLS_TOOLS", "BuildResult", "find_tool", "hls_tool_for", "run_hls_build"]

logger = logging.getLogger(__name__)

#: The executable hls4ml's build() calls for each backend.
HLS_TOOLS: dict[str, str] = {"Vivado": "vivado_hls", "Vitis": "vitis-run"}
#: Name of the build log written into the project directory.
BUILD_LOG_NAME = "wnae_build.log"


@dataclass(frozen=True)
class BuildResult:
    """A finished tool run.

    Attributes:
        command: the command line that was run.
        log_path: the full log of the tool's output.
        elapsed_s: wall time of the run, in s.
    """

    command: tuple[str, ...]
    log_path: Path
    elapsed_s: float


def find_tool(name: str) -> Path | None:
    """The absolute path of executable ``name`` on PATH, or ``None``.

    Absolute because the tools run from the project directory: a relative PATH entry that found
    the tool here would not find it there.
    """
    found = shutil.which(name)
    return None if found is None else Path(found).absolute()


def hls_tool_for(backend: str) -> Path | None:
    """The HLS executable for an hls4ml backend (``Vivado`` → ``vivado_hls``, ``Vitis`` → ``vitis-run``), if on PATH."""
    if backend not in HLS_TOOLS:
        msg = f"unknown backend {backend!r}; one of {', '.join(HLS_TOOLS)}"
        raise ValueError(msg)
    return find_tool(HLS_TOOLS[backend])


def _require(name: str, why: str) -> Path:
    path = find_tool(name)
    if path is None:
        msg = (
            f"{name} not found on PATH ({why}); source the Xilinx settings64.sh of a Vivado/Vitis "
            "installation, or copy the reports from a machine that has it and pass --reports DIR"
        )
        raise ToolNotFoundError(msg)
    return path


def run_hls_build(
    project_dir: str | Path,
    backend: str,
    *,
    csim: bool = False,
    synth: bool = True,
    cosim: bool = False,
    vsynth: bool = False,
    log_path: str | Path | None = None,
) -> BuildResult:
    """Run C synthesis (and optionally Vivado logic synthesis) of an existing hls4ml project.

    Args:
        project_dir: the hls4ml project (holds ``build_prj.tcl`` and ``project.tcl``).
        backend: ``"Vivado"`` (runs ``vivado_hls``) or ``"Vitis"`` (runs ``vitis-run``).
        csim: also run the vendor C simulation.
        synth: run C synthesis (the HLS estimate).
        cosim: also run C/RTL co-simulation.
        vsynth: also run Vivado logic synthesis (needs ``vivado`` on PATH; writes ``vivado_synth.rpt``).
        log_path: where the tool's output goes (default ``<project_dir>/wnae_build.log``).

    Returns:
        The command, the log path and the elapsed time.

    Raises:
        ToolNotFoundError: the tool (or ``vivado`` for ``vsynth``) is not on PATH.
        FirmwareError: the project lacks ``build_prj.tcl``, or the tool fails (the message points to
            the log and quotes its last lines).
    """
    project = Path(project_dir)
    if backend not in HLS_TOOLS:
        msg = f"unknown backend {backend!r}; one of {', '.join(HLS_TOOLS)}"
        raise FirmwareError(msg)
    for needed in ("build_prj.tcl", "project.tcl"):
        if not (project / needed).is_file():
            msg = f"{project}: no {needed}; not an hls4ml project (write it with 'python -m wnae convert')"
            raise FirmwareError(msg)
    tool = _require(HLS_TOOLS[backend], f"needed for C synthesis of {project}")
    if vsynth:
        _require("vivado", f"needed for Vivado logic synthesis of {project}")

    flags = {"reset": False, "csim": csim, "synth": synth, "cosim": cosim, "validation": False,
             "export": False, "vsynth": vsynth, "fifo_opt": False}  # fmt: skip
    if backend == "Vivado":
        # the same arguments as hls4ml's VivadoBackend.build()
        command: tuple[str, ...] = (str(tool), "-f", "build_prj.tcl", " ".join(f"{k}={v}" for k, v in flags.items()))
    else:
        # the same build_opt.tcl and command as hls4ml's VitisBackend.build()
        opts = "".join(f"    {k:<10} {int(v)}\n" for k, v in flags.items())
        (project / "build_opt.tcl").write_text(f"array set opt {{\n{opts}}}\n")
        command = (str(tool), "--tcl", "build_prj.tcl", "--mode", "hls")

    log_path = Path(log_path) if log_path is not None else project / BUILD_LOG_NAME
    log_path.parent.mkdir(parents=True, exist_ok=True)
    logger.info("running %s in %s (log: %s)", " ".join(command), project, log_path)
    start = time.monotonic()
    tail: deque[str] = deque(maxlen=15)
    try:
        with (
            log_path.open("w") as log,
            subprocess.Popen(
                command,
                cwd=project,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                bufsize=1,
                env=os.environ.copy(),
            ) as proc,
        ):
            for line in proc.stdout or ():
                log.write(line)
                log.flush()
                text = line.rstrip()
                tail.append(text)
                if text.startswith("*****"):
                    logger.info("[%6.0f s] %s", time.monotonic() - start, text.strip("* "))
                elif text.startswith(("ERROR", "CRITICAL WARNING")):
                    logger.warning("%s", text)
                else:
                    logger.debug("%s", text)
            returncode = proc.wait()
    except OSError as err:
        msg = f"could not run {command[0]} in {project}: {err}"
        raise FirmwareError(msg) from err
    elapsed_s = time.monotonic() - start
    if returncode != 0:
        last = "\n    ".join(tail)
        msg = f"{Path(command[0]).name} failed with exit status {returncode} after {elapsed_s:.0f} s; full log: {log_path}\n  last lines:\n    {last}"
        raise FirmwareError(msg)
    logger.info("%s finished in %.0f s", Path(command[0]).name, elapsed_s)
    return BuildResult(command=command, log_path=log_path, elapsed_s=elapsed_s)

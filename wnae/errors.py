"""One exception hierarchy for everything a user can get wrong.

The CLI catches :class:`WnaeError` and prints its message as one line, without a traceback
(``--debug`` shows it). Each subclass also derives from the builtin that fits, so library users can
catch ``ValueError``/``FileNotFoundError`` as usual.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "BudgetError",
    "ConfigError",
    "DataError",
    "FirmwareError",
    "ModelError",
    "NotBuiltError",
    "OutputError",
    "ToolNotFoundError",
    "WnaeError",
]


class WnaeError(Exception):
    """Base class of every error ``wnae`` raises on purpose."""


class ConfigError(WnaeError, ValueError):
    """A configuration file or value is wrong (unknown key, bad value, bad range)."""


class DataError(WnaeError, ValueError):
    """An event file is missing, unreadable, or holds values that break the data format.

    The message names the file, the dataset and the first offending event, e.g.
    ``data/zb.h5:/Particles event 1042: pT = -3.1 GeV < 0``.
    """

    def __init__(
        self,
        problem: str,
        *,
        path: str | Path | None = None,
        dataset: str | None = None,
        event_index: int | None = None,
    ) -> None:
        self.problem = problem
        self.path = None if path is None else Path(path)
        self.dataset = dataset
        self.event_index = event_index
        where = ""
        if self.path is not None:
            where = str(self.path)
            if dataset is not None:
                where += f":/{dataset.lstrip('/')}"
        elif dataset is not None:
            where = f"/{dataset.lstrip('/')}"
        if event_index is not None:
            where = f"{where} event {event_index}" if where else f"event {event_index}"
        super().__init__(f"{where}: {problem}" if where else problem)


class ModelError(WnaeError, ValueError):
    """A model cannot be built, loaded or trained as asked."""


class FirmwareError(WnaeError, RuntimeError):
    """Conversion, compilation or simulation of the firmware failed."""


class OutputError(WnaeError, OSError):
    """An output path cannot be written (a directory, under a regular file, not writable, disk full).

    The message names the path and the reason; nothing half-written is left behind.
    """


class ToolNotFoundError(WnaeError, FileNotFoundError):
    """An external tool (g++, vivado_hls, verilator, yosys, ...) is not installed."""


class BudgetError(WnaeError, RuntimeError):
    """A design exceeds its L1 latency or resource budget."""


class NotBuiltError(WnaeError, NotImplementedError):
    """A command of the toolkit that is planned but not built yet."""

"""wnae — FPGA-targeted L1 anomaly-detection toolkit.

Importing ``wnae`` is light: TensorFlow, hls4ml and Pythia are imported only by the modules that
need them.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:  # the one version source is pyproject.toml; an installed wnae carries it in its metadata
    __version__ = version("wnae")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]

"""wnae — FPGA-targeted L1 anomaly-detection toolkit.

Importing ``wnae`` is light: TensorFlow, hls4ml and Pythia are imported only by the modules that
need them.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

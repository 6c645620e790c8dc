"""``wnae scan``: resource-aware design search on the physics-vs-firmware Pareto front.

Modules, in the order a scan runs: :mod:`~wnae.scan.config` (what is searched),
:mod:`~wnae.scan.space` (parameter values → a train config), :mod:`~wnae.scan.search` (Optuna's
multi-objective TPE, candidates in parallel processes, resume), :mod:`~wnae.scan.candidate` (one
candidate: train, evaluate, da4ml cost), :mod:`~wnae.scan.front` (Pareto front, Yosys, budget,
the choice), :mod:`~wnae.scan.report` (``pareto.md``/``.json``/``.png``, ``chosen.yml``).
"""

from __future__ import annotations

from wnae.scan.config import ScanConfig, load_scan_config
from wnae.scan.search import run_scan
from wnae.scan.state import Candidate, ScanResult

__all__ = ["Candidate", "ScanConfig", "ScanResult", "load_scan_config", "run_scan"]

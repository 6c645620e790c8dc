"""The state of a design scan: its directory (``scans/<name>/``), its resolved setup and its candidates.

Everything a scan knows lives in its directory: ``scan.json`` (the setup, checked on resume),
``scan.lock`` (one process per scan), ``candidates/<id>.json`` and ``candidates/<id>.result.json``.
The search loop (:mod:`wnae.scan.search`) and the report (:mod:`wnae.scan.report`) both read it here.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wnae._io import ensure_dir, json_text, write_json_atomic
from wnae.errors import ConfigError, WnaeError
from wnae.scan.config import RESUMABLE_KEYS, ScanConfig

__all__ = [
    "CANDIDATE_EVALUATE",
    "DEFAULT_EVALUATE",
    "Candidate",
    "ScanError",
    "ScanPaths",
    "ScanResult",
    "ScanSetup",
    "budget_constraints",
    "check_or_write_setup",
    "load_candidates",
    "locked",
    "meets_latency_and_ii",
    "resolve_setup",
]

logger = logging.getLogger(__name__)

DEFAULT_EVALUATE = Path(__file__).resolve().parent.parent / "configs" / "evaluate_default.yml"
#: Evaluation settings a candidate overrides: no plots, no latent maps (seconds per candidate).
CANDIDATE_EVALUATE = {"plots": False, "latent_events": 0, "tsne": False}


class ScanError(WnaeError):
    """A scan that cannot start or continue (its directory is in use, or holds another search)."""


@dataclass
class Candidate:
    """One design of the scan: its id, parameter values and (once finished) its result."""

    id: str
    key: str
    params: dict[str, Any]
    result: dict[str, Any] | None = None
    confirmation: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None and self.result.get("status") == "ok"

    @property
    def confirmed(self) -> bool:
        return self.confirmation is not None and self.confirmation.get("status") == "ok"


@dataclass(frozen=True)
class ScanPaths:
    """The files of ``scans/<name>/``."""

    root: Path

    @property
    def candidates(self) -> Path:
        return self.root / "candidates"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def hls_projects(self) -> Path:
        return self.root / "hls_projects"

    @property
    def setup(self) -> Path:
        return self.root / "scan.json"

    @property
    def lock(self) -> Path:
        return self.root / "scan.lock"

    # ``stage`` "" is the search's training of a candidate, "confirm" its retraining on the confirmation seeds
    def spec(self, cid: str, stage: str = "") -> Path:
        return self.candidates / f"{cid}{'.' + stage if stage else ''}.json"

    def result(self, cid: str, stage: str = "") -> Path:
        return self.candidates / f"{cid}{'.' + stage if stage else ''}.result.json"

    def log(self, cid: str, stage: str = "") -> Path:
        return self.candidates / f"{cid}{'.' + stage if stage else ''}.log"


@dataclass
class ScanResult:
    """What :func:`wnae.scan.search.run_scan` returns: every candidate, the front, the chosen one, what was written."""

    root: Path
    candidates: list[Candidate]
    front: list[str] = field(default_factory=list)
    chosen: str | None = None
    written: list[Path] = field(default_factory=list)
    trained_now: int = 0
    seconds: float = 0.0


@dataclass
class ScanSetup:
    """A scan config resolved into what every candidate needs (:func:`resolve_setup`)."""

    config: ScanConfig
    base: dict[str, Any]
    evaluate: dict[str, Any]
    target: Any
    target_ref: str
    data_dir: Path

    def document(self) -> dict[str, Any]:
        return {
            "scan": self.config.model_dump(mode="json"),
            "base": self.base,
            "evaluate": self.evaluate,
            "target": self.target.model_dump(mode="json"),
            "data_dir": str(self.data_dir),
        }


def resolve_setup(config: ScanConfig, here: Path, data_dir: Path, source: str = "scan config") -> ScanSetup:
    """Everything a candidate needs, checked before the first trial (:func:`~wnae.scan.space.check_space`:
    ``fixed``, ``brief``, every parameter path and range end through the train config)."""
    from wnae.config import load_config
    from wnae.evaluate.config import EvaluateConfig
    from wnae.firmware.config import resolve_target
    from wnae.models.config import TrainConfig
    from wnae.scan.space import base_values, check_space, deep_merge

    base_path = Path(config.base) if Path(config.base).is_absolute() else here / config.base
    base = load_config(base_path, TrainConfig).model_dump(mode="json")
    base = deep_merge(base, config.fixed)
    check_space(base, config.parameters, config.brief, source=source)
    eval_path = DEFAULT_EVALUATE if config.evaluate is None else here / config.evaluate
    evaluate = load_config(eval_path, EvaluateConfig).model_dump(mode="json")
    if config.objective.working_point not in evaluate["working_points"]:
        msg = (
            f"objective.working_point {config.objective.working_point!r} is not a working point of {eval_path} "
            f"({', '.join(evaluate['working_points'])})"
        )
        raise ConfigError(msg)
    target_ref = config.target
    if "/" in target_ref or target_ref.endswith((".yml", ".yaml")):
        target_ref = str((here / target_ref).resolve())
    target = resolve_target(target_ref)
    if config.baseline:
        base_values(base, config.parameters)  # the base must be a point of the space
    return ScanSetup(config, base, evaluate, target, target_ref, data_dir)


def _comparable(doc: Mapping[str, Any]) -> dict[str, Any]:
    scan = {k: v for k, v in doc["scan"].items() if k not in RESUMABLE_KEYS}
    return {**doc, "scan": scan}


def check_or_write_setup(paths: ScanPaths, setup: ScanSetup) -> None:
    """First start: write ``scan.json``. Resume: it must describe the same search."""
    doc = setup.document()
    if paths.setup.is_file():
        try:
            old = json.loads(paths.setup.read_text())
        except (OSError, ValueError) as exc:
            msg = f"{paths.setup}: cannot read the scan's setup ({exc}); remove {paths.root} to start over"
            raise ScanError(msg) from exc
        stored = json.loads(json_text(doc))  # as it is on disk
        if _comparable(old) != _comparable(stored):
            changed = sorted(k for k in set(old) | set(doc) if old.get(k) != stored.get(k))
            msg = (
                f"{paths.root} holds a scan with another setup (differs in: {', '.join(changed)}); only "
                f"{', '.join(sorted(RESUMABLE_KEYS))} may change on resume: use another --name"
            )
            raise ScanError(msg)
    write_json_atomic(paths.setup, doc)


@contextlib.contextmanager
def locked(paths: ScanPaths) -> Iterator[None]:
    """One process per scan directory: ``scan.lock`` holds the owner's pid (a dead owner's lock is taken over)."""
    from wnae._io import pid_alive

    ensure_dir(paths.root)
    while True:
        try:
            fd = os.open(paths.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                pid = int(paths.lock.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and pid_alive(pid):
                msg = f"{paths.root} is in use by another wnae scan (pid {pid})"
                raise ScanError(msg) from None
            paths.lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        break
    try:
        yield
    finally:
        paths.lock.unlink(missing_ok=True)


def load_candidates(paths: ScanPaths) -> list[Candidate]:
    out = []
    for spec_path in sorted(paths.candidates.glob("c*.json")):
        if "." in spec_path.stem:  # a result, or a confirmation's spec
            continue
        try:
            spec = json.loads(spec_path.read_text())
        except (OSError, ValueError) as exc:
            msg = f"{spec_path}: unreadable candidate ({exc}); delete it to re-run that candidate"
            raise ScanError(msg) from exc
        cand = Candidate(spec["id"], spec["key"], spec["params"])
        result_path = paths.result(cand.id)
        if result_path.is_file():
            try:
                cand.result = json.loads(result_path.read_text())
            except (OSError, ValueError):
                logger.warning("%s: unreadable result, the candidate runs again", result_path)
        confirm_path = paths.result(cand.id, "confirm")
        if confirm_path.is_file():
            with contextlib.suppress(OSError, ValueError):
                cand.confirmation = json.loads(confirm_path.read_text())
        out.append(cand)
    return out


def budget_constraints(result: Mapping[str, Any], target: Any) -> dict[str, float]:
    """Name → ≤ 0 where the design meets the target's latency and II budget (Optuna's convention), in ns."""
    cost = result["cost"]
    budget = target.budget
    latency = cost["latency_ns"] - budget.latency_ns if budget.latency_ns else 0.0
    ii = cost["ii_cycles"] * cost["clock_period_ns"] - budget.ii_ns if budget.ii_ns else 0.0
    return {"latency_over_budget_ns": float(latency), "ii_over_budget_ns": float(ii)}


def meets_latency_and_ii(result: Mapping[str, Any], target: Any) -> bool:
    """Whether a candidate's result meets the target's latency and II budget."""
    return all(v <= 1e-9 for v in budget_constraints(result, target).values())

"""``wnae scan``: the search loop — ask the sampler, train candidates in parallel processes, tell it the result.

The search is Optuna's multi-objective TPE (MOTPE; Ozaki et al., GECCO 2020 / JAIR 2022) on two
objectives, the mean signal efficiency at the objective's working point (maximised) and da4ml's LUT
estimate (minimised), with the target's latency and II budget as constraints (Optuna's
``constraints_func``, so the sampler learns where the pipeline gets too deep). Why TPE:

* the space is mixed (integer widths, categorical formats, a float sparsity) and small-budget
  (tens of candidates): TPE models it from ~10 results, where NSGA-II needs generations of ~50;
* successive halving / Hyperband ranks candidates by one scalar at a reduced budget, but here one
  objective (the LUT count) costs seconds and needs no training, and the two-stage training's
  early epochs (the extractor's) say little about the head's efficiency;
* ``constant_liar`` keeps parallel workers from being handed the same point.

State lives in ``scans/<name>/`` and nowhere else: ``candidates/<id>.json`` (what was asked) and
``candidates/<id>.result.json`` (what came out, written atomically by the candidate's process).
A new or resumed scan rebuilds the study from the finished results, re-runs the unfinished ones with
the same values and id, and never retrains a finished one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wnae._io import ensure_dir, remove_stale_temporaries, write_json_atomic
from wnae.scan.config import load_scan_config
from wnae.scan.state import (
    CANDIDATE_EVALUATE,
    Candidate,
    ScanPaths,
    ScanResult,
    ScanSetup,
    budget_constraints,
    check_or_write_setup,
    load_candidates,
    locked,
    meets_latency_and_ii,
    resolve_setup,
)

__all__ = ["run_scan"]

logger = logging.getLogger(__name__)


def _result(cand: Candidate) -> dict[str, Any]:
    """The result of a finished candidate (one that is ``ok``, or one back from :func:`_finish`)."""
    assert cand.result is not None, f"candidate {cand.id} has no result"
    return cand.result


def _confirmation(cand: Candidate) -> dict[str, Any]:
    """The confirmation result of a candidate back from :func:`_finish` at the ``confirm`` stage."""
    assert cand.confirmation is not None, f"candidate {cand.id} has no confirmation result"
    return cand.confirmation


class _Search:
    """The Optuna study, rebuilt from the candidates on disk."""

    def __init__(self, setup: ScanSetup, candidates: list[Candidate]) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        cfg = setup.config
        self.distributions = {path: spec.distribution() for path, spec in cfg.parameters.items()}
        self.sampler = optuna.samplers.TPESampler(
            seed=cfg.seed, multivariate=True, constant_liar=True, n_startup_trials=cfg.startup_trials
        )
        self.study = optuna.create_study(directions=["maximize", "minimize"], sampler=self.sampler)
        self.target = setup.target
        for cand in candidates:
            if cand.result is not None:
                self.add(cand)

    def add(self, cand: Candidate) -> None:
        """Tell the study a finished candidate (a failed one as FAIL: the sampler avoids nothing by it)."""
        import optuna

        params = dict(cand.params)  # the setup check on resume guarantees the same space
        if cand.ok:
            result = _result(cand)
            constraints = budget_constraints(result, self.target)
            trial = optuna.trial.create_trial(
                params=params,
                distributions=self.distributions,
                values=[result["objective"], result["cost"]["lut_estimate"]],
                user_attrs={"id": cand.id},
                constraints=constraints,
            )
        else:
            trial = optuna.trial.create_trial(
                params=params,
                distributions=self.distributions,
                state=optuna.trial.TrialState.FAIL,
                user_attrs={"id": cand.id},
            )
        self.study.add_trial(trial)

    def ask(self, fixed: Mapping[str, Any] | None = None) -> Any:
        """A new trial with every dimension suggested (``fixed``: these values, e.g. an interrupted candidate's)."""
        if fixed is not None:
            self.study.enqueue_trial(dict(fixed), skip_if_exists=False)
        return self.study.ask(fixed_distributions=self.distributions)

    def reject(self, trial: Any) -> None:
        """A proposal not trained (a design being trained right now)."""
        import optuna

        self.study.tell(trial, state=optuna.trial.TrialState.FAIL)

    def tell(self, trial: Any, cand: Candidate) -> None:
        import optuna

        if cand.ok:
            result = _result(cand)
            for name, value in budget_constraints(result, self.target).items():
                trial.set_constraint(name, value)
            trial.set_user_attr("id", cand.id)
            self.study.tell(trial, [result["objective"], result["cost"]["lut_estimate"]])
        else:
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)


class _LocalProcess:
    """A candidate's process on this machine (its own session, so a stop kills what it started too)."""

    def __init__(self, argv: list[str], log_path: Path, env: dict[str, str]) -> None:
        self.log = log_path.open("w")
        self.popen = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def poll(self) -> int | None:
        return self.popen.poll()

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()

    def close(self) -> None:
        self.log.close()


class _DaskTask:
    """A candidate's process started by a Dask task on a worker (:func:`wnae.scan.candidate.run_on_worker`).

    The worker writes the log and the result into the scan directory, so a remote cluster needs it on a
    shared file system. A worker lost mid-candidate is replaced by the scheduler, which reruns the task
    (the candidate starts over, under the same id, and overwrites its files); :meth:`stop` sets the
    task's Dask ``Event``, on which the worker kills the process.
    """

    def __init__(self, client: Any, argv: list[str], log_path: Path) -> None:
        import uuid

        from distributed import Event

        from wnae.scan.candidate import run_on_worker

        self.event = Event(f"wnae-scan-stop-{uuid.uuid4().hex}", client=client)
        self.future = client.submit(run_on_worker, argv[3:], str(log_path), self.event.name, pure=False)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and self.future.done():
            try:
                self.returncode = int(self.future.result())
            except Exception:
                logger.exception("the Dask task of a candidate failed")
                self.returncode = -1
        return self.returncode

    def stop(self) -> None:
        self.event.set()
        with contextlib.suppress(Exception):
            self.future.result(timeout=60)
        self.future.cancel()

    def close(self) -> None:
        pass


@dataclass
class _Running:
    cand: Candidate
    trial: Any
    process: _LocalProcess | _DaskTask
    started: float
    stage: str = ""


def _threads(jobs: int) -> dict[str, int]:
    """TensorFlow threads of one candidate when ``jobs`` train at once: the cores shared out, one op thread each."""
    cores = os.cpu_count() or 1
    return {"intra_op": 1, "inter_op": max(1, cores // max(jobs, 1))}


def _spec(
    setup: ScanSetup, paths: ScanPaths, cand: Candidate, jobs: int, seeds: list[int] | None = None
) -> dict[str, Any]:
    from wnae.scan.space import apply_parameters, deep_merge

    doc = deep_merge(apply_parameters(setup.base, cand.params), setup.config.brief)
    doc = deep_merge(doc, {"threads": _threads(jobs)})
    return {
        "id": cand.id,
        "key": cand.key,
        "params": cand.params,
        "train_config": doc,
        "data_dir": str(setup.data_dir.absolute()),
        "runs_dir": str(paths.runs.absolute()),
        "evaluate": {**setup.evaluate, **CANDIDATE_EVALUATE},
        "target": setup.target_ref,
        "objective": setup.config.objective.model_dump(mode="json"),
        "seeds": list(setup.config.seeds if seeds is None else seeds),
    }


def _launch(
    paths: ScanPaths, spec: Mapping[str, Any], stage: str = "", client: Any = None
) -> _LocalProcess | _DaskTask:
    """Start a candidate's process: here, or as a Dask task on ``client``'s cluster."""
    cid = spec["id"]
    write_json_atomic(paths.spec(cid, stage), spec)
    paths.result(cid, stage).unlink(missing_ok=True)
    from wnae.scan.candidate import SCAN_PID_ENV

    argv = [
        sys.executable,
        "-m",
        "wnae.scan.candidate",
        str(paths.spec(cid, stage).absolute()),
        str(paths.result(cid, stage).absolute()),
    ]
    if client is not None:
        return _DaskTask(client, argv, paths.log(cid, stage).absolute())
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1", SCAN_PID_ENV: str(os.getpid())}
    return _LocalProcess(argv, paths.log(cid, stage), env)


def _stop(running: _Running) -> None:
    running.process.stop()
    running.process.close()


def _finish(paths: ScanPaths, running: _Running, *, timed_out: bool = False) -> Candidate:
    """The result of a finished (or stopped) candidate process; a crash without a result is a failure."""
    cand = running.cand
    running.process.close()
    result_path = paths.result(cand.id, running.stage)
    result: dict[str, Any]
    if timed_out:
        result = {"status": "failed", "error": "stopped: candidate_timeout_min exceeded", "error_type": "Timeout"}
    elif result_path.is_file():
        result = json.loads(result_path.read_text())
    else:
        tail = paths.log(cand.id, running.stage).read_text(errors="replace").strip().splitlines()[-15:]
        result = {
            "status": "failed",
            "error_type": "Crash",
            "error": f"the candidate process exited with status {running.process.poll()} and no result: "
            + " | ".join(tail),
        }
    if "id" not in result:
        result = {
            "id": cand.id,
            "key": cand.key,
            "params": cand.params,
            **result,
            "wall_s": time.monotonic() - running.started,
        }
        write_json_atomic(result_path, result)
    if running.stage:
        cand.confirmation = result
    else:
        cand.result = result
    return cand


def _collect(paths: ScanPaths, running: list[_Running], limit_s: float) -> list[tuple[_Running, Candidate]]:
    """The processes of ``running`` that ended (or ran past ``limit_s`` and were stopped), removed from it, with
    their candidates' results."""
    done = []
    for r in list(running):
        timed_out = r.process.poll() is None and time.monotonic() - r.started > limit_s
        if r.process.poll() is None and not timed_out:
            continue
        if timed_out:
            _stop(r)
        running.remove(r)
        done.append((r, _finish(paths, r, timed_out=timed_out)))
    return done


def _next_id(candidates: list[Candidate]) -> str:
    numbers = [int(c.id[1:]) for c in candidates if c.id[1:].isdigit()]
    return f"c{(max(numbers) + 1) if numbers else 0:03d}"


def _progress(total: int, initial: int, enabled: bool | None) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc="scan",
        unit="candidate",
        disable=not enabled if enabled is not None else not sys.stderr.isatty(),
        dynamic_ncols=True,
    )


def _search(
    setup: ScanSetup,
    paths: ScanPaths,
    candidates: list[Candidate],
    *,
    jobs: int,
    progress: bool | None,
    on_finish: Callable[[Candidate], None] | None,
    client: Any = None,
) -> int:
    """Run candidates until ``trials`` are finished or the time budget is spent; the number trained now."""
    from wnae.scan.space import base_values, candidate_key

    cfg = setup.config
    search = _Search(setup, candidates)
    by_key = {c.key: c for c in candidates if c.result is not None}
    todo = [c for c in candidates if c.result is None]  # interrupted: same id, same values
    if not candidates and cfg.baseline:
        params = base_values(setup.base, cfg.parameters)
        todo.append(Candidate("c000", candidate_key(params), params))
        candidates.append(todo[-1])
    deadline = None if cfg.time_budget_min is None else time.monotonic() + 60 * cfg.time_budget_min
    running: list[_Running] = []
    trained = 0
    bar = _progress(cfg.trials, sum(c.result is not None for c in candidates), progress)
    repeats = 0

    def finished() -> int:
        return sum(c.result is not None for c in candidates)

    try:
        while True:
            while (
                len(running) < jobs
                and finished() + len(running) < cfg.trials
                and (deadline is None or time.monotonic() < deadline)
            ):
                if todo:
                    cand = todo.pop(0)
                    trial = search.ask(cand.params)
                else:
                    trial = search.ask()
                    params = dict(trial.params)
                    key = candidate_key(params)
                    if key in by_key or any(r.cand.key == key for r in running):
                        # the sampler proposed a design already trained: tell it the known result
                        repeats += 1
                        known = by_key.get(key)
                        if known is not None:
                            search.tell(trial, known)
                        else:
                            search.reject(trial)
                        if repeats > 20 * cfg.trials:
                            logger.warning(
                                "the sampler keeps proposing designs already trained; the space is exhausted"
                            )
                            deadline = time.monotonic()
                        continue
                    cand = Candidate(_next_id(candidates), key, params)
                    candidates.append(cand)
                process = _launch(paths, _spec(setup, paths, cand, jobs), client=client)
                running.append(_Running(cand, trial, process, time.monotonic()))
                logger.info("candidate %s started: %s", cand.id, cand.params)
            if not running:
                break
            time.sleep(0.5)
            for r, cand in _collect(paths, running, 60 * cfg.candidate_timeout_min):
                search.tell(r.trial, cand)
                by_key[cand.key] = cand
                trained += 1
                bar.update(1)
                result = _result(cand)  # set by _finish
                if cand.ok:
                    bar.set_postfix_str(
                        f"{cand.id}: {100 * result['objective']:.2f}%, "
                        f"{result['cost']['lut_estimate']:,.0f} LUT, "
                        f"{result['cost']['latency_cycles']} cyc"
                    )
                    logger.info(
                        "candidate %s: objective %.4f, ≈ %.0f LUT, %d cycles (%.0f s)",
                        cand.id,
                        result["objective"],
                        result["cost"]["lut_estimate"],
                        result["cost"]["latency_cycles"],
                        result.get("wall_s", 0),
                    )
                else:
                    logger.warning("candidate %s failed: %s", cand.id, result.get("error"))
                if on_finish is not None:
                    on_finish(cand)
    except BaseException:
        for r in running:  # interrupted: the unfinished candidates run again on resume
            _stop(r)
        raise
    finally:
        bar.close()
    return trained


def confirmation_set(setup: ScanSetup, candidates: list[Candidate]) -> list[Candidate]:
    """The designs retrained on the confirmation seeds: the search's first Pareto layers (non-dominated
    sorting on the search objective and the LUT estimate, within the latency and II budget) until
    ``confirm.designs`` are collected, and the base design."""
    from wnae.scan.front import pareto_layers

    n = setup.config.confirm.designs
    if n == 0:
        return []
    feasible = [c for c in candidates if c.ok and meets_latency_and_ii(_result(c), setup.target)]
    ids = pareto_layers([(c.id, _result(c)["objective"], _result(c)["cost"]["lut_estimate"]) for c in feasible], n)
    chosen = [c for c in candidates if c.id in ids]
    base = next((c for c in candidates if c.id == "c000" and c.ok and setup.config.baseline), None)
    if base is not None and base not in chosen:
        chosen.append(base)
    return chosen


def _confirm(
    setup: ScanSetup,
    paths: ScanPaths,
    candidates: list[Candidate],
    *,
    jobs: int,
    progress: bool | None,
    client: Any = None,
) -> int:
    """Retrain the confirmation set on ``confirm.seeds`` (fresh seeds: the search's winners are partly its luck)."""
    cfg = setup.config
    todo = [c for c in confirmation_set(setup, candidates) if c.confirmation is None]
    if not todo:
        return 0
    logger.info("confirming %d designs on seeds %s: %s", len(todo), cfg.confirm.seeds, ", ".join(c.id for c in todo))
    running: list[_Running] = []
    bar = _progress(len(todo), 0, progress)
    bar.set_description("confirm")
    done = 0
    try:
        while todo or running:
            while todo and len(running) < jobs:
                cand = todo.pop(0)
                process = _launch(paths, _spec(setup, paths, cand, jobs, cfg.confirm.seeds), "confirm", client)
                running.append(_Running(cand, None, process, time.monotonic(), "confirm"))
            time.sleep(0.5)
            limit_s = 60 * cfg.candidate_timeout_min * max(1, len(cfg.confirm.seeds) / max(len(cfg.seeds), 1))
            for _, cand in _collect(paths, running, limit_s):
                done += 1
                bar.update(1)
                confirmation = _confirmation(cand)  # set by _finish
                if cand.confirmed:
                    logger.info(
                        "confirmed %s: objective %.4f on seeds %s (search: %.4f)",
                        cand.id,
                        confirmation["objective"],
                        cfg.confirm.seeds,
                        _result(cand)["objective"],  # the confirmation set holds only ok candidates
                    )
                else:
                    logger.warning("confirmation of %s failed: %s", cand.id, confirmation.get("error"))
    except BaseException:
        for r in running:
            _stop(r)
        raise
    finally:
        bar.close()
    return done


def run_scan(
    config: str | Path,
    *,
    name: str | None = None,
    scans_dir: str | Path = "scans",
    data_dir: str | Path = "data",
    trials: int | None = None,
    jobs: int | None = None,
    time_budget_min: float | None = None,
    scheduler: str | None = None,
    synthesize: bool = True,
    progress: bool | None = None,
    on_finish: Callable[[Candidate], None] | None = None,
) -> ScanResult:
    """Run (or resume) the scan of ``config`` into ``<scans_dir>/<name>/``.

    Args:
        config: scan config YAML (:class:`~wnae.scan.config.ScanConfig`).
        name: scan name (default: the config file's stem without ``scan_``).
        scans_dir: where scans live.
        data_dir: data directory (training, evaluation, RTL simulation).
        trials, jobs, time_budget_min, scheduler: override the config's.
        synthesize: run Yosys on the Pareto front (``synth.designs`` of them).
        progress: progress bar (default: on a terminal).
        on_finish: called with each candidate as it finishes (tests).

    Raises:
        ConfigError: a bad scan config, base config or parameter (named).
        ScanError: the directory is in use by another scan, or holds another search.
    """
    from wnae.data.samples import load_manifest
    from wnae.scan.report import write_scan_outputs

    start = time.monotonic()
    cfg, here = load_scan_config(config)
    if scheduler is not None:
        from wnae._dask import check_scheduler

        check_scheduler(scheduler)
    overrides = {
        k: v
        for k, v in {"trials": trials, "jobs": jobs, "time_budget_min": time_budget_min, "scheduler": scheduler}.items()
        if v is not None
    }
    if overrides:
        cfg = cfg.model_copy(update=overrides)
    data_dir = Path(data_dir)
    load_manifest(data_dir)  # a missing or bad data directory fails before anything is written
    setup = resolve_setup(cfg, here, data_dir, source=str(config))
    name = name or Path(config).stem.removeprefix("scan_")
    paths = ScanPaths(Path(scans_dir) / name)
    n_jobs = cfg.jobs or (os.cpu_count() or 1)
    with locked(paths), contextlib.ExitStack() as stack:
        check_or_write_setup(paths, setup)
        ensure_dir(paths.candidates)
        remove_stale_temporaries(paths.candidates)
        candidates = load_candidates(paths)
        client = None
        if cfg.scheduler is not None:
            from wnae._dask import dask_client

            client = stack.enter_context(dask_client(cfg.scheduler, n_jobs))
        trained = _search(setup, paths, candidates, jobs=n_jobs, progress=progress, on_finish=on_finish, client=client)
        trained += _confirm(setup, paths, candidates, jobs=n_jobs, progress=progress, client=client)
        result = write_scan_outputs(setup, paths, candidates, synthesize=synthesize, jobs=n_jobs)
    result.trained_now = trained
    result.seconds = time.monotonic() - start
    return result

"""Generate the embedded default data set: Pythia 8 → pile-up overlay → L1 emulation → HDF5.

Work is split into blocks of ``block_events`` events. Each block has its own Pythia seed and each
event its own random generator for pile-up and detector smearing, all derived from the one
``seed`` of the config — so the output does not depend on the number of worker processes, and the
same config gives the same bytes. Blocks run in parallel (``jobs`` processes); results are written
in block order through :class:`~wnae.data.io.EventWriter` (temporary file, renamed at the end).

A sample whose file already exists with the same settings hash is reused, not regenerated.
Before anything is generated the output directory is created (or an
:class:`~wnae.errors.OutputError` names the path that cannot be written) and the temporaries that
earlier writers killed with SIGKILL left behind are removed, each with a warning; a run that fails
before writing into them removes the directories it created. An interruption (Ctrl-C) stops the
worker processes and leaves no temporary file; the workers start with SIGINT blocked, so a Ctrl-C
while one is still starting cannot print its traceback (the parent alone handles it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
import zlib
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np

from wnae import __version__
from wnae._io import (
    atomic_path,
    check_output_file,
    ensure_dir,
    output_dir,
    remove_stale_temporaries,
    write_json_atomic,
)
from wnae.data.generate.config import GenerateConfig, Preselection, SampleSpec
from wnae.data.generate.l1 import ETA_MAX, L1Config, emulate_l1
from wnae.data.generate.particles import ParticleBlock
from wnae.data.generate.pf import PF_FEATURES, PFConfig, build_pf_candidates
from wnae.data.generate.pileup import load_pool, overlay_pileup, save_pool, sorted_by_pthat
from wnae.data.generate.pool import start_tasks, worker_pool
from wnae.data.generate.processes import PROCESSES, Process
from wnae.data.generate.pythia import MAX_PYTHIA_SEED, PythiaRunner
from wnae.data.io import EventSet, EventWriter, count_events, read_metadata
from wnae.data.samples import MANIFEST_NAME, SampleInfo, SampleRole, write_manifest
from wnae.data.schema import ObjectType
from wnae.data.zero_bias import mixture_weights
from wnae.errors import ConfigError, DataError, WnaeError

__all__ = ["GenerationResult", "generate", "preselect"]

logger = logging.getLogger(__name__)

CACHE_DIR = ".cache"
POOL_NAME = "pileup_pool"
#: Bumped when the stored per-event content changes (2: pthat_gev per event, pool with pT-hat;
#: 3: sliding-window L1 jets; 4: PF candidates).
FILE_CONTENT_VERSION = 4


def _name_key(name: str) -> int:
    return zlib.crc32(name.encode())


def _pythia_seed(seed: int, name: str, block: int) -> int:
    state = np.random.SeedSequence([seed, _name_key(name), 0, block]).generate_state(1)[0]
    return int(state % MAX_PYTHIA_SEED) + 1


def _event_rngs(seed: int, name: str, first_event: int, n_events: int, stream: int = 1) -> list[np.random.Generator]:
    """One generator per event: stream 1 for pile-up and the L1 emulation, 2 for the PF candidates."""
    key = _name_key(name)
    return [np.random.default_rng([seed, key, stream, first_event + i]) for i in range(n_events)]


def _versions() -> dict[str, str]:
    def version(pkg: str) -> str:
        try:
            return importlib_metadata.version(pkg)
        except importlib_metadata.PackageNotFoundError:
            return "unknown"

    return {"wnae": __version__, **{pkg: version(pkg) for pkg in ("pythia8mc", "numba", "fastjet")}}


def _settings_hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


# ------------------------------------------------------------------------------- pre-selection


def preselect(particles: np.ndarray, presel: Preselection) -> np.ndarray:
    """Boolean (n_events,) mask of events passing the pre-selection."""
    if presel.kind == "none":
        return np.ones(len(particles), bool)
    pt, cls = particles[..., 0], particles[..., 3]
    if presel.kind == "lepton":
        lepton = (cls == ObjectType.EGAMMA) | (cls == ObjectType.MUON)
        return np.any(lepton & (pt > presel.threshold_gev), axis=1)
    jets = np.where(cls == ObjectType.JET, pt, 0.0)
    if presel.kind == "single_jet":
        return jets.max(axis=1) > presel.threshold_gev
    return jets.sum(axis=1) > presel.threshold_gev  # ht


# ------------------------------------------------------------------------------------- workers


@dataclass(frozen=True)
class _BlockTask:
    sample: str
    settings: tuple[str, ...]
    sqrt_s_gev: float
    pythia_seed: int
    mpi_file: str
    seed: int
    first_event: int
    n_events: int
    pileup_mean: float
    pool_path: str | None
    l1: dict[str, Any]
    preselection: dict[str, Any]
    pileup_softer_than_hard: bool = False
    pf: dict[str, Any] | None = None


@dataclass
class _BlockResult:
    particles: np.ndarray
    pthat_gev: np.ndarray
    pf_cands: np.ndarray | None
    n_generated: int
    sigma_pb: float
    sigma_error_pb: float
    mean_pileup: float
    seconds: float


_POOLS: dict[tuple[str, bool], ParticleBlock] = {}


def _pool(path: str, by_pthat: bool) -> ParticleBlock:
    """The worker's pile-up pool (loaded once), as stored or sorted by pT-hat."""
    key = (path, by_pthat)
    if key not in _POOLS:
        full = _POOLS.get((path, False))
        if full is None:
            full = _POOLS.setdefault((path, False), load_pool(path))
        if by_pthat:
            _POOLS[key] = sorted_by_pthat(full)
    return _POOLS[key]


def _mpi_settings(path: str, mode: int) -> list[str]:
    # Reusing Pythia's MPI initialisation cuts minimum-bias init from ~5 s to ~0.2 s per block.
    return [f"MultipartonInteractions:reuseInit = {mode}", f"MultipartonInteractions:initFile = {path}"]


def _run_block(task: _BlockTask) -> _BlockResult:
    start = time.perf_counter()
    runner = PythiaRunner(task.settings, task.pythia_seed, task.sqrt_s_gev, _mpi_settings(task.mpi_file, 2))
    hard = runner.next_batch(task.n_events)
    rngs = _event_rngs(task.seed, task.sample, task.first_event, task.n_events)
    pool = None
    if task.pileup_mean > 0 and task.pool_path is not None:
        pool = _pool(task.pool_path, task.pileup_softer_than_hard)
    merged, n_pu = overlay_pileup(hard, pool, task.pileup_mean, rngs, softer_than_hard=task.pileup_softer_than_hard)
    particles = emulate_l1(merged, rngs, L1Config(**task.l1))
    keep = preselect(particles, Preselection(**task.preselection))
    pf = None
    if task.pf is not None:
        pf_rngs = _event_rngs(task.seed, task.sample, task.first_event, task.n_events, stream=2)
        kept = np.flatnonzero(keep)
        selected = merged if len(kept) == task.n_events else merged.take(kept)
        pf = build_pf_candidates(selected, [pf_rngs[i] for i in kept], PFConfig(**task.pf))
    xs = runner.cross_section()
    assert hard.pthat is not None  # next_batch sets it
    pthat = (merged.pthat if merged.pthat is not None else hard.pthat).astype(np.float32)
    return _BlockResult(
        particles[keep],
        pthat[keep],
        pf,
        task.n_events,
        xs.sigma_pb,
        xs.error_pb,
        float(n_pu.mean()),
        time.perf_counter() - start,
    )


# ---------------------------------------------------------------------------------- orchestration


@dataclass
class GenerationResult:
    """What ``generate`` did, for the summary table (timings are not stored in the event files).

    ``seconds`` is per-sample worker time (one core), so ``generated / seconds`` is events/s per core.
    """

    samples: list[SampleInfo]
    seconds: dict[str, float] = field(default_factory=dict)
    wall_seconds: float = 0.0
    generated: dict[str, int] = field(default_factory=dict)
    reused: list[str] = field(default_factory=list)


def _sample_metadata(
    cfg: GenerateConfig, process: Process, spec: SampleSpec, pileup_mean: float, softer_than_hard: bool
) -> dict[str, Any]:
    extra = {"pileup_softer_than_hard": True} if softer_than_hard else {}
    return {
        "content_version": FILE_CONTENT_VERSION,
        **extra,
        "sample": process.name,
        "role": process.role.value,
        "process_label": process.process_label,
        "description": process.description,
        "generator": f"Pythia 8.3 (pythia8mc), wnae L1 emulation ({cfg.l1.jet_algorithm} jets)",
        "pythia_settings": [*process.settings, *cfg.pythia_settings],
        "sqrt_s_gev": cfg.sqrt_s_gev,
        "seed": cfg.seed,
        "block_events": cfg.block_events,
        "n_generated": spec.n_events,
        "pileup_mean": pileup_mean,
        "pileup_pool_events": _pool_events(cfg, process),
        "l1": cfg.l1.model_dump(mode="json"),
        "pf": None if cfg.pf is None else {**cfg.pf.model_dump(mode="json"), "features": list(PF_FEATURES)},
        "preselection": spec.preselection.model_dump(mode="json"),
        "versions": _versions(),
    }


def _ensure_mpi_file(cache: Path, settings: list[str], cfg: GenerateConfig, name: str) -> Path:
    key = _settings_hash([settings, cfg.sqrt_s_gev, cfg.seed, name, _versions()])
    path = cache / f"mpi-{name}-{key}.dat"
    if not path.exists():
        with atomic_path(path) as tmp:
            PythiaRunner(settings, _pythia_seed(cfg.seed, name, 2**31), cfg.sqrt_s_gev, _mpi_settings(str(tmp), 1))
            if not tmp.exists():  # Pythia writes nothing when the process has no MPI tables
                tmp.write_text("")
    return path


def _pool_events(cfg: GenerateConfig, process: Process) -> int:
    """Interactions in the pile-up pool of a sample (zero-bias samples may have their own, larger pool)."""
    if process.role is SampleRole.ZERO_BIAS and cfg.zero_bias_pileup_pool_events is not None:
        return cfg.zero_bias_pileup_pool_events
    return cfg.pileup_pool_events


def _ensure_pool(cache: Path, cfg: GenerateConfig, n_events: int) -> Path:
    settings = [*PROCESSES["zero_bias"].settings, *cfg.pythia_settings]
    key = _settings_hash([settings, cfg.sqrt_s_gev, cfg.seed, n_events, _versions(), "pthat", "vertex"])
    path = cache / f"{POOL_NAME}-{key}.npz"
    if path.exists():
        return path
    logger.info("generating the pile-up pool: %d minimum-bias interactions", n_events)
    mpi = _ensure_mpi_file(cache, settings, cfg, POOL_NAME)
    seed = _pythia_seed(cfg.seed, POOL_NAME if n_events == cfg.pileup_pool_events else f"{POOL_NAME}-{n_events}", 0)
    runner = PythiaRunner(settings, seed, cfg.sqrt_s_gev, _mpi_settings(str(mpi), 2))
    pool = runner.next_batch(n_events)
    pool = pool.select_particles(np.abs(pool.eta) < ETA_MAX)  # outside the calorimeter: never seen
    with atomic_path(path) as tmp:
        with tmp.open("wb") as f:
            save_pool(f, pool)
    return path


def _with_zero_bias_weights(cfg: GenerateConfig, samples: list[SampleInfo]) -> tuple[list[SampleInfo], dict | None]:
    """Set ``zb_weight`` (and the unbiased sample's veto) on the samples of the weighted zero bias."""
    import dataclasses

    import h5py

    from wnae.data.io import PTHAT

    zb = cfg.zero_bias_slices
    if zb is None:
        return samples, None
    by_name = {s.name: s for s in samples}
    unbiased = by_name["zero_bias"]
    spec = cfg.samples["zero_bias"]
    mu = cfg.pileup_mean if spec.pileup_mean is None else spec.pileup_mean

    with h5py.File(unbiased.path(cfg.output_dir), "r") as f:
        n_soft = int(np.count_nonzero(f[PTHAT][:] < zb.pthat_edges_gev[0]))

    def sigma(name: str) -> tuple[float, int]:
        info = by_name[name]
        if info.cross_section_pb is None:
            msg = f"sample '{name}' has no cross-section: it cannot be weighted into the zero bias"
            raise DataError(msg)
        return info.cross_section_pb, info.n_generated

    weights = mixture_weights(
        sigma_inel_pb=sigma("zero_bias")[0],
        pileup_mean=mu,
        unbiased=("zero_bias", n_soft),
        veto_pthat_gev=zb.pthat_edges_gev[0],
        slices={p.name: sigma(p.name) for p in zb.processes()},
        electroweak={name: sigma(name) for name in zb.electroweak},
    )
    weights.summary["unbiased_kept_fraction"] = n_soft / unbiased.n_generated
    out = []
    for s in samples:
        if s.name in weights.weights:
            veto = weights.veto_pthat_gev if s.name == "zero_bias" else None
            s = dataclasses.replace(s, zb_weight=weights.weights[s.name], zb_pthat_veto_gev=veto)
        out.append(s)
    return out, weights.summary


def _sample_info(path: Path, out: Path) -> SampleInfo:
    meta = read_metadata(path)
    return SampleInfo(
        name=meta["sample"],
        role=SampleRole(meta["role"]),
        process_label=int(meta["process_label"]),
        file=str(path.relative_to(out)),
        n_events=count_events(path),
        n_generated=int(meta["n_generated"]),
        cross_section_pb=meta.get("cross_section_pb"),
        cross_section_error_pb=meta.get("cross_section_error_pb"),
    )


def _prepare_output(out: Path, cache: Path, samples: list[str]) -> None:
    """Create the output directories, check the files to write, remove stale temporaries.

    Raises :class:`OutputError` naming the path before hours of generation, not after.
    """
    ensure_dir(out)
    ensure_dir(cache)
    for target in [*(out / f"{name}.h5" for name in samples), out / MANIFEST_NAME]:
        check_output_file(target)
    for directory in (out, cache):
        removed = remove_stale_temporaries(directory)  # each logged as a warning
        if removed:
            logger.info("%s: removed %d temporary file(s) of interrupted runs", directory, len(removed))


def generate(
    cfg: GenerateConfig,
    *,
    jobs: int | None = None,
    force: bool = False,
    progress: bool | None = None,
    scheduler: str | None = None,
) -> GenerationResult:
    """Generate every sample of ``cfg`` into ``cfg.output_dir`` and write ``manifest.json``.

    Args:
        cfg: the configuration.
        jobs: worker processes (default: all cores); must be ≥ 1. With ``scheduler="local"``, the
            workers of the Dask ``LocalCluster``.
        scheduler: run the blocks as Dask tasks (:mod:`wnae._dask`): ``"local"`` or
            ``tcp://HOST:PORT`` of an existing cluster; None = a local process pool. The files are
            the same bytes either way.
        force: regenerate even when a file with the same settings exists.
        progress: show a progress bar (default: only on a terminal).

    Returns:
        The samples written (or reused) with per-sample wall times.
    """
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        msg = f"jobs must be a positive number of worker processes, got {jobs!r}"
        raise ConfigError(msg)
    if scheduler is not None:
        from wnae._dask import check_scheduler

        check_scheduler(scheduler)
    out = Path(cfg.output_dir)
    cache = out / CACHE_DIR
    with output_dir(out), output_dir(cache):  # a run that fails before writing leaves no empty directory
        return _generate(cfg, out, cache, jobs or os.cpu_count() or 1, force, progress, scheduler)


def _generate(
    cfg: GenerateConfig, out: Path, cache: Path, jobs: int, force: bool, progress: bool | None, scheduler: str | None
) -> GenerationResult:
    """:func:`generate` into ``out`` (its caches in ``cache``), the arguments checked."""
    _prepare_output(out, cache, [process.name for process, _, _ in cfg.plan()])
    result = GenerationResult(samples=[])

    plan = cfg.plan()
    todo: list[tuple[Process, dict[str, Any], list[_BlockTask]]] = []
    pool_sizes: set[int] = set()
    specs = {}
    for process, spec, softer in plan:
        name = process.name
        specs[name] = (spec, softer)
        pileup_mean = cfg.pileup_mean if spec.pileup_mean is None else spec.pileup_mean
        meta = _sample_metadata(cfg, process, spec, pileup_mean, softer)
        meta["settings_hash"] = _settings_hash(meta)
        path = out / f"{name}.h5"
        if not force and path.exists():
            try:
                cached = read_metadata(path).get("settings_hash")
            except DataError:
                cached = None
            if cached == meta["settings_hash"]:
                logger.info("%s: reusing %s (same settings)", name, path)
                result.reused.append(name)
                continue
        if pileup_mean > 0:
            pool_sizes.add(_pool_events(cfg, process))
        todo.append((process, meta, []))

    pool_paths = {n: str(_ensure_pool(cache, cfg, n)) for n in sorted(pool_sizes)}
    for process, meta, tasks in todo:
        settings = [*process.settings, *cfg.pythia_settings]
        mpi = str(_ensure_mpi_file(cache, settings, cfg, process.name))
        spec, softer = specs[process.name]
        for block, first in enumerate(range(0, spec.n_events, cfg.block_events)):
            tasks.append(
                _BlockTask(
                    sample=process.name,
                    settings=tuple(settings),
                    sqrt_s_gev=cfg.sqrt_s_gev,
                    pythia_seed=_pythia_seed(cfg.seed, process.name, block),
                    mpi_file=mpi,
                    seed=cfg.seed,
                    first_event=first,
                    n_events=min(cfg.block_events, spec.n_events - first),
                    pileup_mean=meta["pileup_mean"],
                    pool_path=pool_paths.get(_pool_events(cfg, process)),
                    l1=cfg.l1.model_dump(),
                    preselection=spec.preselection.model_dump(),
                    pileup_softer_than_hard=softer,
                    pf=None if cfg.pf is None else cfg.pf.model_dump(),
                )
            )

    wall_start = time.perf_counter()
    try:
        _write_samples(out, cfg, todo, jobs, progress, result, scheduler)
    except BrokenProcessPool as err:
        msg = f"a generator worker process died ({err}); finished samples are kept, the unfinished one left no file"
        raise WnaeError(msg) from err
    result.wall_seconds = time.perf_counter() - wall_start
    result.samples = [_sample_info(out / f"{p.name}.h5", out) for p, _, _ in plan]
    result.samples, zero_bias = _with_zero_bias_weights(cfg, result.samples)
    write_manifest(out, result.samples, zero_bias)
    if result.seconds:
        write_json_atomic(
            cache / "last_timing.json",
            {
                "jobs": jobs,
                "cpu_seconds": result.seconds,
                "events": result.generated,
                "wall_seconds": result.wall_seconds,
            },
        )
    return result


def _write_samples(
    out: Path,
    cfg: GenerateConfig,
    todo: list[tuple[Process, dict[str, Any], list[_BlockTask]]],
    jobs: int,
    progress: bool | None,
    result: GenerationResult,
    scheduler: str | None = None,
) -> None:
    from tqdm.auto import tqdm

    all_tasks = [t for _, _, tasks in todo for t in tasks]
    total = sum(t.n_events for t in all_tasks)
    if all_tasks:
        logger.info("generating %d events in %d blocks on %d process(es)", total, len(all_tasks), jobs)
    n_workers = min(jobs, max(1, len(all_tasks)))
    with contextlib.ExitStack() as stack:
        if scheduler is not None and all_tasks:
            from wnae._dask import dask_client, map_in_order

            client = stack.enter_context(dask_client(scheduler, n_workers))
            on_cluster = map_in_order(client, _run_block, all_tasks)
            stack.callback(on_cluster.close)  # cancels what is left while the client is still open
            results: Iterator[Any] = on_cluster
        else:
            workers = stack.enter_context(worker_pool(n_workers))
            results = start_tasks(workers, _run_block, all_tasks) if workers is not None else map(_run_block, all_tasks)
        bar = stack.enter_context(
            tqdm(total=total, unit="ev", disable=None if progress is None else not progress, desc="generate")
        )
        for process, meta, tasks in todo:
            sigma, err2, n_acc, cpu_seconds = [], 0.0, 0, 0.0
            path = out / f"{process.name}.h5"
            writer = EventWriter(
                path,
                metadata=meta,
                chunk_events=min(4096, cfg.block_events),
                with_pthat=True,
                pf_max_candidates=None if cfg.pf is None else cfg.pf.n_max,
            )
            with writer:
                for task in tasks:
                    res = next(results)
                    n = len(res.particles)
                    writer.append(
                        EventSet(
                            res.particles,
                            np.full(n, process.process_label),
                            np.full(n, process.name),
                            pthat_gev=res.pthat_gev,
                            pf_cands=res.pf_cands,
                        )
                    )
                    sigma.append((res.sigma_pb, res.n_generated))
                    cpu_seconds += res.seconds
                    err2 += (res.sigma_error_pb * res.n_generated) ** 2
                    n_acc += res.n_generated
                    bar.set_postfix_str(process.name)
                    bar.update(task.n_events)
                weights = np.array([w for _, w in sigma], float)
                writer.metadata["cross_section_pb"] = float(np.dot([s for s, _ in sigma], weights) / weights.sum())
                writer.metadata["cross_section_error_pb"] = float(np.sqrt(err2) / n_acc)
                writer.metadata["preselection_efficiency"] = writer.n_events / meta["n_generated"]
            result.seconds[process.name] = cpu_seconds
            result.generated[process.name] = meta["n_generated"]
            logger.info("%s: %d events -> %s", process.name, writer.n_events, path)

"""Running Pythia 8 and turning its events into visible final-state particles.

Pythia is driven through its Python bindings (``pythia8mc``); ``Pythia.nextBatch(n)`` returns a
batch of events as an awkward array, so no Python loop over particles is needed.

References:
    C. Bierlich et al., "A comprehensive guide to the physics and usage of PYTHIA 8.3",
    SciPost Phys. Codebases 8 (2022), arXiv:2203.11601.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wnae.data.generate.particles import ParticleBlock
from wnae.errors import ConfigError, WnaeError

__all__ = ["PythiaRunner", "quiet_stdout", "visible_particles"]

logger = logging.getLogger(__name__)

#: Pythia's seed must lie in [1, 900 000 000].
MAX_PYTHIA_SEED = 900_000_000
#: Particles that leave no trace: neutrinos; stable BSM states (|id| > 1e6, e.g. neutralinos) too.
_NEUTRINOS = (12, 14, 16)
#: mb → pb.
MB_TO_PB = 1e9


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence C++ output on file descriptor 1 (Pythia's init banner, FastJet's banner)."""
    try:
        fd = os.dup(1)
    except OSError:  # no real stdout (e.g. captured by a test harness)
        yield
        return
    with Path(os.devnull).open("w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(fd, 1)
            os.close(fd)


@dataclass
class CrossSection:
    sigma_pb: float
    error_pb: float
    n_accepted: int


class PythiaRunner:
    """One initialised Pythia instance for a process and a seed.

    Args:
        settings: process-specific ``readString`` lines.
        seed: Pythia random seed, 1 … 900 000 000.
        sqrt_s_gev: centre-of-mass energy in GeV.
        extra: more ``readString`` lines (user overrides), applied last.
    """

    def __init__(
        self, settings: Sequence[str], seed: int, sqrt_s_gev: float = 13_600.0, extra: Sequence[str] = ()
    ) -> None:
        import pythia8mc

        if not 1 <= seed <= MAX_PYTHIA_SEED:
            msg = f"Pythia seed must be in [1, {MAX_PYTHIA_SEED}], got {seed}"
            raise ConfigError(msg)
        with quiet_stdout():
            self._pythia = pythia8mc.Pythia("", False)
        lines = [
            f"Beams:eCM = {sqrt_s_gev}",
            "Print:quiet = on",
            "Next:numberCount = 0",
            "Next:numberShowEvent = 0",
            "Next:numberShowInfo = 0",
            "Next:numberShowProcess = 0",
            "Random:setSeed = on",
            f"Random:seed = {seed}",
            *settings,
            *extra,
        ]
        for line in lines:
            if not self._pythia.readString(line):
                msg = f"Pythia rejected the setting '{line}'"
                raise ConfigError(msg)
        with quiet_stdout():
            ok = self._pythia.init()
        if not ok:
            msg = f"Pythia failed to initialise with settings {list(settings) + list(extra)}"
            raise WnaeError(msg)

    def next_batch(self, n_events: int) -> ParticleBlock:
        """Generate ``n_events`` events; return their visible final-state particles.

        ``pthat`` of the block is Pythia's pT-hat per event (GeV); for ``SoftQCD`` minimum bias it is
        the pT of the hardest multiparton interaction, the quantity that pT-hat slices of
        ``HardQCD`` are cut on (their fraction above 30 GeV agrees with σ(pT-hat > 30)/σ_inel).
        """
        import awkward as ak

        with quiet_stdout():
            batch = self._pythia.nextBatch(n_events)
        block = visible_particles(batch)
        block.pthat = np.sqrt(np.maximum(ak.to_numpy(batch.info.pT2Hat).astype(np.float64), 0.0))
        if block.n_events != n_events:
            msg = f"Pythia returned {block.n_events} of {n_events} events (generation errors)"
            raise WnaeError(msg)
        return block

    def cross_section(self) -> CrossSection:
        """Pythia's ``sigmaGen`` and its error (pb), including forced branching ratios."""
        info = self._pythia.infoPython()
        return CrossSection(info.sigmaGen() * MB_TO_PB, info.sigmaErr() * MB_TO_PB, int(info.nAccepted()))


def visible_particles(batch: Any) -> ParticleBlock:  # batch: an awkward array
    """Visible final-state particles of a ``nextBatch`` awkward array.

    Kept: status > 0, not a neutrino, not a stable BSM state (|id| > 10⁶), and produced inside the
    calorimeter volume (transverse radius < 2.95 m and |z| < 5.5 m; particles born beyond the
    outer HCAL leave nothing). Their production vertex (Pythia's ``vProd``, in mm: decays of B/D
    hadrons, τ, K⁰_S, Λ and long-lived BSM states happen at their lifetime-sampled vertices) gives
    ``dxy`` and ``rxy`` (:class:`ParticleBlock`).
    """
    import awkward as ak

    prt = batch.prt
    apid = abs(prt.id)
    vprod = prt.vProd
    r_mm = np.hypot(ak.fill_none(vprod.px, 0.0), ak.fill_none(vprod.py, 0.0))
    z_mm = abs(ak.fill_none(vprod.pz, 0.0))
    keep = (
        (prt.status > 0)
        & (apid != _NEUTRINOS[0])
        & (apid != _NEUTRINOS[1])
        & (apid != _NEUTRINOS[2])
        & (apid < 1_000_000)
        & (r_mm < 2950.0)
        & (z_mm < 5500.0)
    )
    fs = prt[keep]
    counts = ak.to_numpy(ak.num(fs)).astype(np.int64)
    px = ak.to_numpy(ak.flatten(fs.p.px))
    py = ak.to_numpy(ak.flatten(fs.p.py))
    pz = ak.to_numpy(ak.flatten(fs.p.pz))
    pid = ak.to_numpy(ak.flatten(fs.id)).astype(np.int32)
    x = ak.to_numpy(ak.flatten(ak.fill_none(fs.vProd.px, 0.0)))
    y = ak.to_numpy(ak.flatten(ak.fill_none(fs.vProd.py, 0.0)))
    pt = np.hypot(px, py)
    ok = pt > 1e-9  # beam remnants along the axis have no η
    eta = np.zeros_like(pt)
    eta[ok] = np.arcsinh(pz[ok] / pt[ok])
    phi = np.arctan2(py, px)
    dxy = np.zeros_like(pt)
    dxy[ok] = (y[ok] * px[ok] - x[ok] * py[ok]) / pt[ok]
    rxy = np.hypot(x, y)
    if not ok.all():
        evt = np.repeat(np.arange(len(counts)), counts)
        counts = np.bincount(evt[ok], minlength=len(counts)).astype(np.int64)
        pt, eta, phi, pid, dxy, rxy = pt[ok], eta[ok], phi[ok], pid[ok], dxy[ok], rxy[ok]
    offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    return ParticleBlock(pt, eta, phi, pid, offsets, dxy=dxy.astype(np.float32), rxy=rxy.astype(np.float32))

"""Jagged arrays of final-state particles for a block of events, in flat numpy form.

Events are stored as flat per-particle arrays plus ``offsets`` (n_events + 1), the layout that
vectorised L1 emulation (:mod:`wnae.data.generate.l1`) and pile-up overlay
(:mod:`wnae.data.generate.pileup`) work on without Python loops over particles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ParticleBlock"]


@dataclass
class ParticleBlock:
    """Visible final-state particles of ``n_events`` events.

    Attributes:
        pt: float64 (n_particles,) transverse momentum in GeV.
        eta: float64 (n_particles,) pseudorapidity.
        phi: float64 (n_particles,) azimuth in rad, in [-π, π).
        pid: int32 (n_particles,) PDG id.
        offsets: int64 (n_events + 1,) particles of event i are ``offsets[i]:offsets[i+1]``.
    """

    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    pid: np.ndarray
    offsets: np.ndarray

    @property
    def n_events(self) -> int:
        return len(self.offsets) - 1

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def event_index(self) -> np.ndarray:
        """int64 (n_particles,) event of each particle."""
        return np.repeat(np.arange(self.n_events), self.counts)

    def take(self, index: np.ndarray) -> ParticleBlock:
        """The events at ``index`` (in that order; repeats allowed)."""
        index = np.asarray(index, dtype=np.int64)
        counts = self.counts[index]
        starts = self.offsets[:-1][index]
        offsets = np.zeros(len(index) + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        flat = np.repeat(starts - offsets[:-1], counts) + np.arange(offsets[-1])
        return ParticleBlock(self.pt[flat], self.eta[flat], self.phi[flat], self.pid[flat], offsets)

    def select_particles(self, mask: np.ndarray) -> ParticleBlock:
        """The same events with only the particles where ``mask`` is True."""
        counts = np.bincount(self.event_index[mask], minlength=self.n_events)
        offsets = np.zeros(self.n_events + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        return ParticleBlock(self.pt[mask], self.eta[mask], self.phi[mask], self.pid[mask], offsets)

    @classmethod
    def merge_events(cls, blocks: list[ParticleBlock], owner: list[np.ndarray]) -> ParticleBlock:
        """Overlay events: output event ``k`` holds every particle of ``blocks[j]``'s events whose
        ``owner[j]`` entry is ``k`` (``owner[j]`` has one output-event index per event of
        ``blocks[j]``, non-decreasing). Within an output event, particles keep their order, block by
        block. Used to add pile-up interactions to hard-scatter events; O(n_particles), no sort.
        """
        n_out = 1 + max(int(o.max()) if len(o) else -1 for o in owner)
        dest = [o[b.event_index] for b, o in zip(blocks, owner, strict=True)]
        counts = np.stack([np.bincount(d, minlength=n_out) for d in dest])  # (n_blocks, n_out)
        offsets = np.zeros(n_out + 1, np.int64)
        np.cumsum(counts.sum(axis=0), out=offsets[1:])
        # within an output event, block j's particles start after those of blocks < j
        base = offsets[:-1][None, :] + np.cumsum(counts, axis=0) - counts
        n_total = int(offsets[-1])
        out = {name: np.empty(n_total, getattr(blocks[0], name).dtype) for name in ("pt", "eta", "phi", "pid")}
        for j, (b, d) in enumerate(zip(blocks, dest, strict=True)):
            if len(d) and np.any(np.diff(d) < 0):
                msg = "owner indices must be non-decreasing within each block"
                raise ValueError(msg)
            group_first = np.zeros(n_out + 1, np.int64)
            np.cumsum(counts[j], out=group_first[1:])
            pos = base[j][d] + np.arange(len(d)) - group_first[d]
            for name, arr in out.items():
                arr[pos] = getattr(b, name)
        return cls(out["pt"], out["eta"], out["phi"], out["pid"], offsets)

    @classmethod
    def empty(cls, n_events: int) -> ParticleBlock:
        z = np.zeros(0)
        return cls(z, z, z, np.zeros(0, np.int32), np.zeros(n_events + 1, np.int64))

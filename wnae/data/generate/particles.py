"""Jagged arrays of final-state particles for a block of events, in flat numpy form.

Events are stored as flat per-particle arrays plus ``offsets`` (n_events + 1), the layout that
vectorised L1 emulation (:mod:`wnae.data.generate.l1`) and pile-up overlay
(:mod:`wnae.data.generate.pileup`) work on without Python loops over particles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ParticleBlock", "per_event_normals"]


@dataclass
class ParticleBlock:
    """Visible final-state particles of ``n_events`` events.

    Attributes:
        pt: float64 (n_particles,) transverse momentum in GeV.
        eta: float64 (n_particles,) pseudorapidity.
        phi: float64 (n_particles,) azimuth in rad, in [-π, π).
        pid: int32 (n_particles,) PDG id.
        offsets: int64 (n_events + 1,) particles of event i are ``offsets[i]:offsets[i+1]``.
        pthat: float64 (n_events,) the generator's hard-process pT-hat in GeV (for minimum bias the
            hardest multiparton interaction), or None when not known.
        dxy: float32 (n_particles,) transverse impact parameter in mm of the particle's straight
            line from its production vertex, relative to the beam line (the z axis), CMS sign
            convention d_xy = (−x p_y + y p_x) / pT; or None (not extracted).
        rxy: float32 (n_particles,) transverse distance of the production vertex from the beam
            line in mm, or None.
        pileup: bool (n_particles,) the particle comes from a pile-up interaction (set by
            :meth:`overlay`), or None.
    """

    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    pid: np.ndarray
    offsets: np.ndarray
    pthat: np.ndarray | None = None
    dxy: np.ndarray | None = None
    rxy: np.ndarray | None = None
    pileup: np.ndarray | None = None

    def _per_particle(self, index: np.ndarray) -> dict[str, np.ndarray | None]:
        """The optional per-particle arrays at ``index`` (a gather or a mask)."""
        return {
            name: None if getattr(self, name) is None else getattr(self, name)[index]
            for name in ("dxy", "rxy", "pileup")
        }

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
        pthat = None if self.pthat is None else self.pthat[index]
        return ParticleBlock(
            self.pt[flat], self.eta[flat], self.phi[flat], self.pid[flat], offsets, pthat, **self._per_particle(flat)
        )

    def select_particles(self, mask: np.ndarray) -> ParticleBlock:
        """The same events with only the particles where ``mask`` is True."""
        counts = np.bincount(self.event_index[mask], minlength=self.n_events)
        offsets = np.zeros(self.n_events + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        return ParticleBlock(
            self.pt[mask],
            self.eta[mask],
            self.phi[mask],
            self.pid[mask],
            offsets,
            self.pthat,
            **self._per_particle(mask),
        )

    def overlay(self, pool: ParticleBlock, index: np.ndarray, n_per_event: np.ndarray) -> ParticleBlock:
        """Event ``k`` of the result: this block's event ``k``, then the ``n_per_event[k]`` pool events
        listed next in ``index`` (event 0 takes the first ``n_per_event[0]`` entries, and so on).

        The same events, particle for particle, as :meth:`merge_events` on
        ``[self, pool.take(index)]``, but built with one gather per array (pile-up overlay of 60
        interactions moves ~9k particles per event: this is the fast path). ``pthat`` becomes the
        largest pT-hat among each event's interactions (None unless both blocks know theirs);
        ``dxy`` and ``rxy`` are kept when both blocks have them, and ``pileup`` marks the pool's
        particles.
        """
        index = np.asarray(index, dtype=np.int64)
        n_per_event = np.asarray(n_per_event, dtype=np.int64)
        n = self.n_events
        if len(n_per_event) != n or int(n_per_event.sum()) != len(index):
            msg = f"overlay needs one count per event ({n}) summing to the {len(index)} pool indices"
            raise ValueError(msg)
        # segments in output order: event k's own particles, then each of its pool events
        seg_first = np.zeros(n + 1, np.int64)
        np.cumsum(1 + n_per_event, out=seg_first[1:])
        own = np.zeros(int(seg_first[-1]), bool)
        own[seg_first[:-1]] = True
        src_start = np.empty(len(own), np.int64)
        seg_len = np.empty(len(own), np.int64)
        src_start[own], seg_len[own] = self.offsets[:-1], self.counts
        src_start[~own], seg_len[~own] = len(self.pt) + pool.offsets[:-1][index], pool.counts[index]
        out_start = np.zeros(len(own) + 1, np.int64)
        np.cumsum(seg_len, out=out_start[1:])
        flat = np.repeat(src_start - out_start[:-1], seg_len) + np.arange(out_start[-1])
        pthat = None
        if self.pthat is not None and pool.pthat is not None:
            pthat = self.pthat.astype(np.float64, copy=True)
            has = n_per_event > 0  # index is grouped by event: one segment maximum per event with pile-up
            if has.any():
                starts = (np.cumsum(n_per_event) - n_per_event)[has]
                pthat[has] = np.maximum(pthat[has], np.maximum.reduceat(pool.pthat[index], starts))

        def gather_all(name: str) -> np.ndarray:
            return np.concatenate([getattr(self, name), getattr(pool, name)])[flat]

        def gather(name: str) -> np.ndarray | None:
            if getattr(self, name) is None or getattr(pool, name) is None:
                return None
            return gather_all(name)

        return ParticleBlock(
            gather_all("pt"),
            gather_all("eta"),
            gather_all("phi"),
            gather_all("pid"),
            out_start[seg_first],
            pthat,
            dxy=gather("dxy"),
            rxy=gather("rxy"),
            pileup=flat >= len(self.pt),
        )

    @classmethod
    def merge_events(cls, blocks: list[ParticleBlock], owner: list[np.ndarray]) -> ParticleBlock:
        """Overlay events: output event ``k`` holds every particle of ``blocks[j]``'s events whose
        ``owner[j]`` entry is ``k`` (``owner[j]`` has one output-event index per event of
        ``blocks[j]``, non-decreasing). Within an output event, particles keep their order, block by
        block. Used to add pile-up interactions to hard-scatter events; O(n_particles), no sort.
        Only the kinematics and ids are merged (:meth:`overlay` is the full, fast path).
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
        zf = np.zeros(0, np.float32)
        return cls(
            z, z, z, np.zeros(0, np.int32), np.zeros(n_events + 1, np.int64), dxy=zf, rxy=zf, pileup=np.zeros(0, bool)
        )


def per_event_normals(rngs: list[np.random.Generator], event: np.ndarray) -> np.ndarray:
    """One standard normal per entry of ``event`` (sorted), drawn from that event's generator, so a
    result does not depend on how the events are batched."""
    counts = np.bincount(event, minlength=len(rngs))
    return np.concatenate([rng.standard_normal(c) for rng, c in zip(rngs, counts, strict=True)] + [np.zeros(0)])

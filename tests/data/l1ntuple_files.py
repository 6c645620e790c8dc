"""Tiny CMS L1 ntuples (ROOT, ``L1UpgradeTree``) written with uproot, for the tests of
:mod:`wnae.data.l1ntuple`.

uproot writes TTrees of plain leaves and C-style variable-length arrays (``float[]`` with a counter
leaf), not ``std::vector`` members nor split objects. ``layout="split"`` therefore writes every
member as a top-level branch named literally ``L1Upgrade/<member>``: uproot reads it back under the
key ``L1Upgrade/<member>``, the key under which it exposes the sub-branch ``<member>`` of a real
split ``L1Upgrade`` branch, so the reader takes the same path as for a CMSSW file.
``layout="flat"`` writes the members as top-level leaves ``<member>``. Each jagged member gets its
own counter leaf ``n_<name>`` (uproot's requirement; the reader ignores it); the count members
(``nEGs``, ``nMuons``, ``nJets``, ``nSums``, uint16) are written from the lengths unless given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import awkward as ak
import numpy as np
import uproot

EMU_TREE = "l1UpgradeEmuTree/L1UpgradeTree"
UNPACKED_TREE = "l1UpgradeTree/L1UpgradeTree"

#: Count member -> the jagged member whose length it counts.
COUNTS: dict[str, str] = {"nEGs": "egEt", "nMuons": "muonEt", "nJets": "jetEt", "nSums": "sumEt"}
#: Members stored as float in the ntuple (the rest are short integers).
FLOAT_MEMBERS = frozenset(
    {
        "egEt", "egEta", "egPhi",
        "muonEt", "muonEta", "muonPhi", "muonEtaAtVtx", "muonPhiAtVtx",
        "jetEt", "jetEta", "jetPhi",
        "sumEt", "sumPhi", "sumBx",
    }
)  # fmt: skip

CALO_ETA_STEP = 0.087 / 2
CALO_PHI_STEP = 2 * math.pi / 144
MUON_ETA_STEP = 0.010875
MUON_PHI_STEP = 2 * math.pi / 576


def _dtype(member: str) -> np.dtype:
    if member in COUNTS:
        return np.dtype(np.uint16)
    return np.dtype(np.float32 if member in FLOAT_MEMBERS else np.int16)


def _jagged(values: Any, dtype: np.dtype) -> ak.Array:
    if isinstance(values, ak.Array):
        return ak.values_astype(values, dtype)
    rows = [list(row) for row in values]
    counts = np.array([len(row) for row in rows], dtype=np.int64)
    content = np.array([x for row in rows for x in row], dtype=dtype)
    return ak.unflatten(content, counts)


def write_l1ntuple(
    path: str | Path,
    events: Mapping[str, Sequence[Sequence[float]] | ak.Array | np.ndarray],
    *,
    layout: Literal["split", "flat"] = "split",
    tree: str = EMU_TREE,
    counts: bool = True,
) -> Path:
    """Write ``events`` (member name -> per-event lists; count members as flat per-event numbers)
    as an L1 tree; ``counts`` adds the count members the ``events`` lack from their jagged members."""
    if layout not in ("split", "flat"):
        msg = f"layout must be 'split' or 'flat', not {layout!r}"
        raise ValueError(msg)
    prefix = "L1Upgrade/" if layout == "split" else ""
    arrays: dict[str, Any] = {}
    for member, values in events.items():
        if member in COUNTS:
            arrays[member] = np.asarray(values, dtype=_dtype(member))
        else:
            arrays[member] = _jagged(values, _dtype(member))
    if counts:
        for count, ref in COUNTS.items():
            if count not in arrays and ref in arrays:
                arrays[count] = np.asarray(ak.num(arrays[ref], axis=1), dtype=np.uint16)
    branches = {prefix + member: value for member, value in arrays.items()}
    types = {
        name: value.dtype if isinstance(value, np.ndarray) else value.type.content for name, value in branches.items()
    }
    n = {len(v) for v in branches.values()}
    if len(n) > 1:
        msg = f"members differ in their number of events: {sorted(n)}"
        raise ValueError(msg)
    path = Path(path)
    with uproot.recreate(path) as file:
        out = file.mktree(tree, types, counter_name=lambda counted: "n_" + counted.replace("/", "_"))
        if n and n.pop() > 0:
            out.extend(branches)
    return path


def _wrap(phi: np.ndarray) -> np.ndarray:
    return np.where(phi > math.pi, phi - 2 * math.pi, phi)


def _unflatten(counts: np.ndarray, **content: np.ndarray) -> dict[str, ak.Array]:
    return {name: ak.unflatten(values, counts) for name, values in content.items()}


def random_l1_events(n: int, seed: int = 0) -> dict[str, ak.Array]:
    """Plausible L1 events: e/γ, μ, jets in BX −2..2 (mostly 0) and energy sums of several types
    and BXs (always MET, ``sumType`` 2, at BX 0 except in ~2 % of the events); hardware integers
    first, physical values from them by the L1 scales (Et = iEt/2, calo η step 0.087/2, φ step
    2π/144; muon η at the vertex step 0.010875, φ step 2π/576)."""
    rng = np.random.default_rng(seed)
    out: dict[str, ak.Array] = {}
    bx_values = np.array([-2, -1, 0, 1, 2], dtype=np.int16)
    bx_prob = [0.04, 0.08, 0.76, 0.08, 0.04]

    for prefix, mean, max_ieta in (("eg", 2.5, 57), ("jet", 8.0, 108)):
        counts = rng.poisson(mean, n)
        total = int(counts.sum())
        iet = np.minimum(1 + np.floor(rng.exponential(40.0, total)), 2047).astype(np.int16)
        ieta = rng.integers(-max_ieta, max_ieta + 1, total).astype(np.int16)
        iphi = rng.integers(0, 144, total).astype(np.int16)
        out |= _unflatten(
            counts,
            **{
                f"{prefix}Et": (iet / 2).astype(np.float32),
                f"{prefix}Eta": (ieta * CALO_ETA_STEP).astype(np.float32),
                f"{prefix}Phi": _wrap(iphi * CALO_PHI_STEP).astype(np.float32),
                f"{prefix}IEt": iet,
                f"{prefix}IEta": ieta,
                f"{prefix}IPhi": iphi,
                f"{prefix}Bx": rng.choice(bx_values, total, p=bx_prob),
            },
        )

    counts = rng.poisson(2.0, n)
    total = int(counts.sum())
    iet = np.minimum(1 + np.floor(rng.exponential(20.0, total)), 511).astype(np.int16)
    ieta_vtx = rng.integers(-220, 221, total).astype(np.int16)
    iphi_vtx = rng.integers(0, 576, total).astype(np.int16)
    # at the muon system: bent away from the vertex coordinates (what the reader must not use)
    ieta = np.clip(ieta_vtx + rng.integers(-8, 9, total), -225, 225).astype(np.int16)
    iphi = ((iphi_vtx + rng.integers(-40, 41, total)) % 576).astype(np.int16)
    out |= _unflatten(
        counts,
        muonEt=(iet / 2).astype(np.float32),
        muonEta=(ieta * MUON_ETA_STEP).astype(np.float32),
        muonPhi=_wrap(iphi * MUON_PHI_STEP).astype(np.float32),
        muonEtaAtVtx=(ieta_vtx * MUON_ETA_STEP).astype(np.float32),
        muonPhiAtVtx=_wrap(iphi_vtx * MUON_PHI_STEP).astype(np.float32),
        muonIEt=iet,
        muonIEta=ieta,
        muonIPhi=iphi,
        muonIEtaAtVtx=ieta_vtx,
        muonIPhiAtVtx=iphi_vtx,
        muonBx=rng.choice(bx_values, total, p=bx_prob),
    )

    # sums: a grid of 5 BXs x 5 types (ET, HT, MET, MHT, MET with HF), shuffled within each event
    types = np.array([0, 1, 2, 3, 8], dtype=np.int16)
    grid_bx = np.repeat(bx_values, len(types))
    grid_type = np.tile(types, len(bx_values))
    present = (grid_bx[None, :] == 0) | (rng.random((n, len(grid_bx))) < 0.3)
    no_met = rng.random(n) < 0.02
    present[no_met] &= ~((grid_bx == 0) & (grid_type == 2))[None, :]
    keys = np.where(present, rng.random(present.shape), np.inf)
    order = np.argsort(keys, axis=1)
    counts = present.sum(axis=1)
    keep = np.arange(len(grid_bx))[None, :] < counts[:, None]
    shape = present.shape
    sum_type = np.broadcast_to(grid_type, shape)[np.arange(n)[:, None], order][keep]
    sum_bx = np.broadcast_to(grid_bx, shape)[np.arange(n)[:, None], order][keep]
    total = int(counts.sum())
    with_phi = np.isin(sum_type, (2, 3, 8))
    iet = np.minimum(np.floor(rng.exponential(np.where(with_phi, 40.0, 300.0))), 4095).astype(np.int16)
    iphi = np.where(with_phi, rng.integers(0, 144, total), 0).astype(np.int16)
    out |= _unflatten(
        counts,
        sumType=sum_type.astype(np.int16),
        sumEt=(iet / 2).astype(np.float32),
        sumPhi=np.where(with_phi, _wrap(iphi * CALO_PHI_STEP), 0.0).astype(np.float32),
        sumIEt=iet,
        sumIPhi=iphi,
        sumBx=sum_bx.astype(np.float32),
    )
    return out

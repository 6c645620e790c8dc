"""The L1-object event layout of the public CMS ADC2021 dataset, and its units.

An event is an array of shape ``(19, 4)``:

* axis 0 — 19 slots: ``[MET, 4 e/γ, 4 μ, 10 jets]``; within each object type the slots are
  ordered by decreasing pT and zero-padded at the end;
* axis 1 — ``[pT (GeV), η, φ (rad), class id]`` with class ids
  ``1`` MET, ``2`` e/γ, ``3`` μ, ``4`` jet, ``0`` empty slot.

References:
    E. Govorkova et al., "LHC physics dataset for unsupervised New Physics detection at 40 MHz",
    Sci. Data 9 (2022) 118, arXiv:2107.02157.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "FEATURE_NAMES",
    "MAX_ABS_ETA",
    "MAX_ABS_PHI",
    "MAX_PT_GEV",
    "N_FEATURES",
    "N_KINEMATIC",
    "N_OBJECTS",
    "PARTICLES_CLASSES",
    "PARTICLES_NAMES",
    "SLOT_CLASS",
    "SLOT_NAMES",
    "SQRT_S_GEV",
    "ObjectType",
    "SlotRange",
    "slot_ranges",
]


class ObjectType(enum.IntEnum):
    """Class ids stored in the fourth feature of each slot."""

    EMPTY = 0
    MET = 1
    EGAMMA = 2
    MUON = 3
    JET = 4


@dataclass(frozen=True)
class SlotRange:
    """The slots ``[start, stop)`` that hold objects of one type."""

    object_type: ObjectType
    start: int
    stop: int
    label: str

    @property
    def size(self) -> int:
        return self.stop - self.start


_LAYOUT: tuple[tuple[ObjectType, int, str], ...] = (
    (ObjectType.MET, 1, "MET"),
    (ObjectType.EGAMMA, 4, "egamma"),
    (ObjectType.MUON, 4, "muon"),
    (ObjectType.JET, 10, "jet"),
)


def slot_ranges() -> tuple[SlotRange, ...]:
    """Slot ranges of the four object types, in storage order."""
    ranges = []
    start = 0
    for object_type, size, label in _LAYOUT:
        ranges.append(SlotRange(object_type, start, start + size, label))
        start += size
    return tuple(ranges)


N_OBJECTS: int = sum(size for _, size, _ in _LAYOUT)  # 19
N_KINEMATIC: int = 3  # pT, η, φ
N_FEATURES: int = N_OBJECTS * N_KINEMATIC  # 57

#: Class id expected in each slot when it is filled.
SLOT_CLASS: np.ndarray = np.concatenate([np.full(r.size, int(r.object_type), dtype=np.int64) for r in slot_ranges()])

#: ``MET``, ``egamma_0`` … ``egamma_3``, ``muon_0`` …, ``jet_0`` … ``jet_9``.
SLOT_NAMES: tuple[str, ...] = tuple(
    r.label if r.size == 1 else f"{r.label}_{i}" for r in slot_ranges() for i in range(r.size)
)

#: Names of the 57 model input features, in the order of ``particles[:, :, :3].reshape(n, 57)``.
FEATURE_NAMES: tuple[str, ...] = tuple(f"{slot}_{kin}" for slot in SLOT_NAMES for kin in ("pt", "eta", "phi"))

#: ``Particles_Names`` and ``Particles_Classes`` as written in the ADC2021 files.
PARTICLES_NAMES: tuple[str, ...] = ("Pt", "Eta", "Phi", "Class")
PARTICLES_CLASSES: tuple[str, ...] = ("MET_class_1", "Four_Ele_class_2", "Four_Mu_class_3", "Ten_Jet_class_4")

#: Largest |η| any L1 object can have (calorimeter coverage); MET carries η = 0.
MAX_ABS_ETA: float = 5.0
#: φ is in [-π, π]; a tolerance absorbs float32 rounding of ±π.
MAX_ABS_PHI: float = math.pi + 1e-5

#: LHC Run-3 centre-of-mass energy of the pp collisions, in GeV (13.6 TeV).
SQRT_S_GEV: float = 13_600.0

#: Largest pT (GeV) any L1 object, MET included, can physically carry: √s/2 = 6800 GeV.
#:
#: Why √s/2: in the pp centre-of-mass frame momentum conservation lets no object (nor a vector sum
#: of objects, which is what MET is) carry more transverse momentum than one beam's energy, √s/2;
#: the colliding partons carry less still, and pile-up only adds soft minimum-bias interactions.
#: A larger value is not physics but a corrupt or mis-scaled file (MeV stored as GeV, an
#: uninitialised float), and it would overflow the fixed-point normalisation's hardware word.
#: Files whose metadata records another ``sqrt_s_gev`` are checked against their own √s/2.
MAX_PT_GEV: float = SQRT_S_GEV / 2

"""Reading CMS L1 ntuples (ROOT, written by CMSSW ``L1Trigger/L1TNtuples``) into the event layout.

The files AXOL1TL trains on hold the L1 objects the global trigger sees in the tree
``l1UpgradeEmuTree/L1UpgradeTree`` (emulated trigger) or ``l1UpgradeTree/L1UpgradeTree`` (unpacked
from data), in one branch ``L1Upgrade`` of class ``L1Analysis::L1AnalysisL1UpgradeDataFormat``
(``L1Trigger/L1TNtuples/interface/L1AnalysisL1UpgradeDataFormat.h``). Per event and object type it
holds a count (``nEGs``, ``nMuons``, ``nJets``, ``nSums``, unsigned short) and one
``std::vector`` per quantity, over every bunch crossing read out (``egBx``, ...):

==========  ==========================================================================
e/γ         ``egEt egEta egPhi`` (float), ``egIEt egIEta egIPhi egBx`` (short)
μ           ``muonEt muonEtaAtVtx muonPhiAtVtx`` (float), ``muonIEt muonIEtaAtVtx
            muonIPhiAtVtx muonBx`` (short) — muons at the vertex, as the global trigger
            uses them
jets        ``jetEt jetEta jetPhi`` (float), ``jetIEt jetIEta jetIPhi jetBx`` (short)
sums        ``sumType`` (short), ``sumEt sumPhi`` (float), ``sumIEt sumIPhi`` (short),
            ``sumBx`` (float)
==========  ==========================================================================

What is read (:data:`BRANCHES`) and kept (:data:`SELECTION`):

* only objects of bunch crossing 0;
* MET is the sum with ``sumType == 2`` — ``kMissingEt``, the third enumerator (0-based value 2) of
  ``enum EtSumType {kTotalEt, kTotalHt, kMissingEt, kMissingHt, ...}`` in
  ``L1Trigger/L1TNtuples/interface/L1AnalysisL1UpgradeDataFormat.h`` (copied there from
  ``DataFormats/L1Trigger/interface/EtSum.h``, ``l1t::EtSum::EtSumType``) — and ``sumBx == 0``:
  pT = ``sumEt``, η = 0, φ = ``sumPhi``, hardware ``[sumIEt, 0, sumIPhi]``; an event without one
  leaves the MET slot empty;
* per type the objects are ordered by decreasing ``Et`` and fill the type's slots
  (:mod:`wnae.data.schema`: 4 e/γ, 4 μ, 10 jets); more than that keeps the hardest and is counted
  in a :class:`TruncationTally`.

Each event becomes float32 ``(19, 4)`` ``[pT GeV, η, φ rad, class id]`` and int32 ``(19, 3)``
``[iEt, iEta, iPhi]`` (zero for empty slots): :class:`L1NtupleChunk`.

Two branch layouts are read, detected per file (:func:`detect_layout`):

* **split** — what CMSSW writes: ``tree->Branch("L1Upgrade", "L1Analysis::...DataFormat", &data,
  32000, 3)`` splits the object into one sub-branch per member, named after the member
  (``egEt``) under the branch ``L1Upgrade``. uproot exposes them with the full path
  ``L1Upgrade/egEt`` (``tree.keys()``; ``tree["L1Upgrade/egEt"]`` walks into ``L1Upgrade``).
  A sub-branch named ``L1Upgrade.egEt`` (a branch name with a trailing dot) is accepted too.
  uproot cannot *write* a split object (nor ``std::vector`` members): its closest, which the tests
  use, is a top-level branch named literally ``L1Upgrade/egEt`` (a ``float[]`` with a counter
  branch); uproot finds it under the same key ``L1Upgrade/egEt``, so it goes through the same code
  path — the key that is read — as a true split file.
* **flat** — members as top-level leaves ``egEt``, ``nEGs``, ... (``L1UpgradeFlatTree``-style
  ntuples, or re-written files).

Files are read in steps of ``step_events`` events (:func:`iter_l1ntuple`), only the branches
needed, so memory is bounded by one step whatever the file size.

Every problem raises :class:`~wnae.errors.DataError` naming the file, the tree, the branch and,
where it applies, the event: a missing file, a file that is not ROOT, no known tree, a missing
branch, members of one type whose lengths disagree in an event (or disagree with the count
member), non-finite values, and values outside the event layout
(:func:`~wnae.data.validate.validate_particles`). A file with zero events is not an error: it gives
no chunks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

from wnae.data.schema import N_OBJECTS, ObjectType, slot_ranges
from wnae.data.validate import validate_particles
from wnae.errors import DataError

__all__ = [
    "BRANCHES",
    "BRANCH_GROUP",
    "K_MISSING_ET",
    "L1_TREES",
    "SELECTION",
    "L1NtupleChunk",
    "TruncationTally",
    "count_l1ntuple_events",
    "detect_layout",
    "find_tree",
    "iter_l1ntuple",
]

#: The trees an L1 ntuple holds its L1 objects in: emulated first, then unpacked.
L1_TREES: tuple[str, ...] = ("l1UpgradeEmuTree/L1UpgradeTree", "l1UpgradeTree/L1UpgradeTree")
#: The object branch of class ``L1Analysis::L1AnalysisL1UpgradeDataFormat``.
BRANCH_GROUP = "L1Upgrade"
#: ``l1t::EtSum::kMissingEt``: the value of ``sumType`` for the missing transverse energy.
K_MISSING_ET = 2
DEFAULT_STEP_EVENTS = 50_000


@dataclass(frozen=True)
class _ObjectBranches:
    """The members of one object type: count, physical Et/η/φ, hardware iEt/iEta/iPhi, BX."""

    label: str
    count: str
    et: str
    eta: str
    phi: str
    iet: str
    ieta: str
    iphi: str
    bx: str

    @property
    def jagged(self) -> tuple[str, ...]:
        return (self.et, self.eta, self.phi, self.iet, self.ieta, self.iphi, self.bx)

    @property
    def floats(self) -> tuple[str, ...]:
        return (self.et, self.eta, self.phi)


_EG = _ObjectBranches("egamma", "nEGs", "egEt", "egEta", "egPhi", "egIEt", "egIEta", "egIPhi", "egBx")
_MU = _ObjectBranches(
    "muon", "nMuons", "muonEt", "muonEtaAtVtx", "muonPhiAtVtx",
    "muonIEt", "muonIEtaAtVtx", "muonIPhiAtVtx", "muonBx",
)  # fmt: skip
_JET = _ObjectBranches("jet", "nJets", "jetEt", "jetEta", "jetPhi", "jetIEt", "jetIEta", "jetIPhi", "jetBx")
_OBJECTS: dict[ObjectType, _ObjectBranches] = {ObjectType.EGAMMA: _EG, ObjectType.MUON: _MU, ObjectType.JET: _JET}
_SUM_COUNT = "nSums"
_SUMS: tuple[str, ...] = ("sumType", "sumEt", "sumPhi", "sumIEt", "sumIPhi", "sumBx")
_SUM_FLOATS: tuple[str, ...] = ("sumEt", "sumPhi", "sumBx")
_COUNTS: tuple[str, ...] = (*(o.count for o in _OBJECTS.values()), _SUM_COUNT)

#: The members read (the count members only where the file has them).
BRANCHES: tuple[str, ...] = (
    *(name for o in _OBJECTS.values() for name in (o.count, *o.jagged)),
    _SUM_COUNT,
    *_SUMS,
)
#: What is kept of the ntuple, in words (for provenance).
SELECTION: str = (
    "objects of bunch crossing 0 only; MET = the sum with sumType == 2 (kMissingEt) and sumBx == 0 "
    "(pT sumEt, eta 0, phi sumPhi); muons at the vertex (muonEtaAtVtx, muonPhiAtVtx); per type the "
    "highest-Et objects fill 4 e/gamma, 4 muon and 10 jet slots"
)

_RANGES = {r.object_type: r for r in slot_ranges()}
_MET_SLOT = _RANGES[ObjectType.MET].start


@dataclass
class L1NtupleChunk:
    """A block of consecutive events of one file.

    Attributes:
        particles: float32 (n, 19, 4): pT (GeV), η, φ (rad), class id.
        hardware: int32 (n, 19, 3): iEt, iEta, iPhi of the same slots (0 for empty slots).
        path: the file the events came from.
        first_event: index of the first event within that file.
    """

    particles: np.ndarray
    hardware: np.ndarray
    path: Path
    first_event: int

    def __len__(self) -> int:
        return len(self.particles)


@dataclass
class TruncationTally:
    """Objects at BX 0 beyond the slots of their type (the softest, dropped), over many chunks.

    Attributes:
        n_events: events seen.
        events: per type label (``egamma``, ``muon``, ``jet``): events that had more objects than slots.
        objects: per type label: objects dropped.
    """

    n_events: int = 0
    events: dict[str, int] = field(default_factory=lambda: {o.label: 0 for o in _OBJECTS.values()})
    objects: dict[str, int] = field(default_factory=lambda: {o.label: 0 for o in _OBJECTS.values()})

    def update(self, label: str, n_objects: np.ndarray, n_slots: int) -> None:
        """Count one type of one chunk: ``n_objects`` is the number at BX 0 per event."""
        excess = np.maximum(np.asarray(n_objects, dtype=np.int64) - n_slots, 0)
        self.events[label] = self.events.get(label, 0) + int(np.count_nonzero(excess))
        self.objects[label] = self.objects.get(label, 0) + int(excess.sum())

    def message(self) -> str | None:
        """The warning text, or None when nothing was truncated.

        >>> tally = TruncationTally(n_events=10)
        >>> tally.message() is None
        True
        >>> tally.update("jet", np.array([12, 3, 11]), 10)
        >>> tally.message()
        'more objects at BX 0 than slots, the softest dropped: jet in 2 of 10 events (3 objects)'
        """
        parts = [
            f"{label} in {self.events[label]} of {self.n_events} events ({self.objects[label]} objects)"
            for label in self.events
            if self.events[label]
        ]
        if not parts:
            return None
        return "more objects at BX 0 than slots, the softest dropped: " + "; ".join(parts)


# ------------------------------------------------------------------------------------------ files


def _open(path: Path) -> uproot.ReadOnlyDirectory:
    """Open a ROOT file, or raise DataError naming why it cannot be."""
    if not path.exists():
        msg = "file does not exist"
        raise DataError(msg, path=path)
    if path.is_dir():
        msg = "is a directory, not a ROOT file"
        raise DataError(msg, path=path)
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as err:
        msg = f"cannot be read: {err.strerror or err}"
        raise DataError(msg, path=path) from err
    if magic != b"root":
        msg = f"not a ROOT file (it starts with {magic!r}, not b'root')"
        raise DataError(msg, path=path)
    try:
        return uproot.open(path)
    except Exception as err:  # uproot raises many kinds for a damaged file
        msg = f"not a readable ROOT file: {type(err).__name__}: {err}"
        raise DataError(msg, path=path) from err


def _trees_in(file: uproot.ReadOnlyDirectory) -> list[str]:
    return sorted({k for k, cls in file.classnames(cycle=False).items() if cls == "TTree"})


def _tree_in_file(file: uproot.ReadOnlyDirectory, path: Path, tree: str | None) -> str:
    trees = _trees_in(file)
    wanted = L1_TREES if tree is None else (tree.strip("/"),)
    for name in wanted:
        if name in trees:
            return name
    held = ", ".join(trees) if trees else "none"
    looked = "none of the L1 ntuple trees " + ", ".join(L1_TREES) if tree is None else f"no tree {tree}"
    msg = f"{looked}; the file holds the trees: {held}"
    raise DataError(msg, path=path)


def find_tree(path: str | Path, tree: str | None = None) -> str:
    """The L1 tree a file holds: ``tree`` if given, else the first of :data:`L1_TREES` present.

    Raises:
        DataError: the file does not exist, is not ROOT, or holds none of the trees looked for
            (the message lists the trees it has).
    """
    path = Path(path)
    with _open(path) as file:
        return _tree_in_file(file, path, tree)


def count_l1ntuple_events(paths: str | Path | Iterable[str | Path], tree: str | None = None) -> int:
    """Events in all files together (from the tree headers, without reading any array)."""
    total = 0
    for path in _paths(paths):
        with _open(path) as file:
            total += int(file[_tree_in_file(file, path, tree)].num_entries)
    return total


def _paths(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    if isinstance(paths, str | Path):
        return [Path(paths)]
    return [Path(p) for p in paths]


# ----------------------------------------------------------------------------------------- layout


def detect_layout(tree: uproot.TTree) -> tuple[str, dict[str, str]]:
    """The branch layout of an L1 tree and the key of each member in it.

    Returns:
        ``("split", {"egEt": "L1Upgrade/egEt", ...})`` when members sit under the ``L1Upgrade``
        branch (or in branches named ``L1Upgrade/<member>``), else ``("flat", {"egEt": "egEt", ...})``
        for top-level leaves.
    """
    split: dict[str, str] = {}
    for key in tree.keys(recursive=True, full_paths=True):
        head, _, tail = key.partition("/")
        if head.rstrip(".") != BRANCH_GROUP or not tail:
            continue
        member = tail.rsplit("/", 1)[-1].split("[", 1)[0]
        member = member.removeprefix(BRANCH_GROUP + ".")
        split.setdefault(member, key)
    if split:
        return "split", split
    return "flat", {key: key for key in tree.keys(recursive=False)}


def _layout_words(layout: str) -> str:
    if layout == "split":
        return f"split layout: members of the {BRANCH_GROUP} branch, keys {BRANCH_GROUP}/<member>"
    return "flat layout: members as top-level leaves"


# ------------------------------------------------------------------------------------------ read


def iter_l1ntuple(
    paths: str | Path | Iterable[str | Path],
    *,
    tree: str | None = None,
    step_events: int = DEFAULT_STEP_EVENTS,
    tally: TruncationTally | None = None,
) -> Iterator[L1NtupleChunk]:
    """Read L1 ntuples in chunks of at most ``step_events`` events, file after file.

    Args:
        paths: one file or several, read in order.
        tree: the tree in every file (default: per file the first of :data:`L1_TREES` present).
        step_events: events per chunk (memory is bounded by one chunk of the needed branches).
        tally: counts the objects beyond the slots of their type (see :class:`TruncationTally`).

    Yields:
        :class:`L1NtupleChunk`, in file order; a file with zero events yields nothing.

    Raises:
        DataError: see the module docstring.
    """
    if step_events < 1:
        msg = f"step_events must be >= 1, got {step_events}"
        raise ValueError(msg)
    for path in _paths(paths):
        yield from _iter_file(path, tree, step_events, tally)


def _iter_file(
    path: Path, tree: str | None, step_events: int, tally: TruncationTally | None
) -> Iterator[L1NtupleChunk]:
    with _open(path) as file:
        tree_name = _tree_in_file(file, path, tree)
        ttree = file[tree_name]
        layout, keys = detect_layout(ttree)
        needed = [m for m in BRANCHES if m not in _COUNTS or m in keys]
        missing = [m for m in needed if m not in keys]
        if missing:
            key = f"{BRANCH_GROUP}/{missing[0]}" if layout == "split" else missing[0]
            more = f" (and {len(missing) - 1} more: {', '.join(missing[1:])})" if len(missing) > 1 else ""
            msg = f"missing branch {key}{more} ({_layout_words(layout)})"
            raise DataError(msg, path=path, dataset=tree_name)
        expressions = [keys[m] for m in needed]
        first = 0
        steps = ttree.iterate(expressions, step_size=step_events, library="ak", how=dict)
        while True:
            try:
                arrays = next(steps)
            except StopIteration:
                break
            except Exception as err:  # a damaged basket: uproot/decompression errors of many kinds
                msg = f"cannot read events from {first} on: {type(err).__name__}: {err}"
                raise DataError(msg, path=path, dataset=tree_name) from err
            members = {m: arrays[keys[m]] for m in needed}
            chunk = _convert(members, keys, path=path, tree=tree_name, first_event=first, tally=tally)
            if len(chunk):
                yield chunk
            first += len(chunk)


def _first_true(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


def _check(members: dict[str, ak.Array], keys: dict[str, str], *, path: Path, tree: str, first_event: int) -> None:
    """Lengths agree within each type (and with its count member); floats are finite."""

    def fail(member: str, problem: str, event: int) -> DataError:
        return DataError(problem, path=path, dataset=f"{tree}/{keys[member]}", event_index=first_event + event)

    groups = [(o.count, o.jagged) for o in _OBJECTS.values()] + [(_SUM_COUNT, _SUMS)]
    for count, jagged in groups:
        ref = jagged[0]
        n_ref = np.asarray(ak.num(members[ref], axis=1))
        for member in jagged:
            n = np.asarray(ak.num(members[member], axis=1))
            bad = _first_true(n != n_ref)
            if bad is not None:
                problem = f"{member} has {n[bad]} entries but {ref} has {n_ref[bad]}"
                raise fail(member, problem, bad)
        if count in members:
            n = np.asarray(members[count]).astype(np.int64)
            bad = _first_true(n != n_ref)
            if bad is not None:
                raise fail(count, f"{count} = {n[bad]} but {ref} has {n_ref[bad]} entries", bad)
    floats = [*(m for o in _OBJECTS.values() for m in o.floats), *_SUM_FLOATS]
    for member in floats:
        values = members[member]
        flat = np.asarray(ak.flatten(values))
        if flat.size and not np.isfinite(flat).all():
            bad = _first_true(np.asarray(ak.any(~np.isfinite(values), axis=1)))
            assert bad is not None
            raise fail(member, f"non-finite value (NaN or inf) in {member}", bad)


def _flat(values: ak.Array) -> np.ndarray:
    """The content of a jagged array, event after event, as numpy."""
    return np.asarray(ak.to_numpy(ak.flatten(values, axis=1)))


def _event_of(values: ak.Array) -> tuple[np.ndarray, np.ndarray]:
    """(the event index of each flattened entry, the entries per event)."""
    counts = np.asarray(ak.num(values, axis=1), dtype=np.int64)
    return np.repeat(np.arange(len(counts)), counts), counts


def _convert(
    members: dict[str, ak.Array],
    keys: dict[str, str],
    *,
    path: Path,
    tree: str,
    first_event: int,
    tally: TruncationTally | None,
) -> L1NtupleChunk:
    """One chunk of ntuple members -> the event layout (vectorised over the flattened objects)."""
    n_events = len(members[_EG.et])
    _check(members, keys, path=path, tree=tree, first_event=first_event)
    particles = np.zeros((n_events, N_OBJECTS, 4), np.float32)
    hardware = np.zeros((n_events, N_OBJECTS, 3), np.int32)

    # MET: the first sum of type kMissingEt at BX 0
    event, _ = _event_of(members["sumType"])
    met = np.flatnonzero((_flat(members["sumType"]) == K_MISSING_ET) & (_flat(members["sumBx"]) == 0))
    met_events, first = np.unique(event[met], return_index=True)
    src = met[first]
    particles[met_events, _MET_SLOT, 0] = _flat(members["sumEt"])[src]
    particles[met_events, _MET_SLOT, 2] = _flat(members["sumPhi"])[src]
    particles[met_events, _MET_SLOT, 3] = float(ObjectType.MET)
    hardware[met_events, _MET_SLOT, 0] = _flat(members["sumIEt"])[src]
    hardware[met_events, _MET_SLOT, 2] = _flat(members["sumIPhi"])[src]

    if tally is not None:
        tally.n_events += n_events
    for object_type, branches in _OBJECTS.items():
        r = _RANGES[object_type]
        event, _ = _event_of(members[branches.bx])
        bx0 = np.flatnonzero(_flat(members[branches.bx]) == 0)
        et = _flat(members[branches.et])
        # by event, then by decreasing Et; lexsort is stable, so equal Et keep their file order
        order = bx0[np.lexsort((-et[bx0], event[bx0]))]
        n_objects = np.bincount(event[bx0], minlength=n_events)
        if tally is not None:
            tally.update(branches.label, n_objects, r.size)
        starts = np.cumsum(n_objects) - n_objects
        rank = np.arange(len(order)) - starts[event[order]]
        kept = rank < r.size
        src, dst_event, dst_slot = order[kept], event[order][kept], r.start + rank[kept]
        for column, member in enumerate((branches.et, branches.eta, branches.phi)):
            particles[dst_event, dst_slot, column] = _flat(members[member])[src]
        for column, member in enumerate((branches.iet, branches.ieta, branches.iphi)):
            hardware[dst_event, dst_slot, column] = _flat(members[member])[src]
        particles[dst_event, dst_slot, 3] = float(object_type)

    validate_particles(particles, path=path, dataset=f"{tree}/{BRANCH_GROUP}", first_event=first_event)
    return L1NtupleChunk(particles, hardware, path, first_event)

"""The longest register-to-register path of a Yosys-synthesised 7-series netlist, in ns.

Yosys's ``sta`` cannot time a ``synth_xilinx`` netlist (its ``CARRY4`` has no timing arcs there), so
the path is walked here: every LUT, carry, wide-mux and DSP cell with the pin-to-pin delays of
Yosys's own simulation models (``share/xilinx/cells_sim.v``, whose ``specify`` blocks carry Project
X-Ray's 7-series timing), flip-flops and the design's ports as the start and end points
(clock-to-Q at the start), and an assumed routing delay for every net a path crosses between two
cells. The logic delay is measured; the routing is the model's assumption, stated with it.

Example:
    >>> arcs = {"LUT2": {("I0", "O"): 0.4, ("I1", "O"): 0.3}}
    >>> cells = {"a": ("LUT2", {"I0": [2], "I1": [3]}, {"O": [4]})}
    >>> longest_path(cells, arcs, starts={2: 0.0, 3: 0.0}, ends=[4], hop_ns=0.5).logic_ns
    0.4
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wnae.errors import FirmwareError

__all__ = [
    "CLOCK_TO_Q_NS",
    "DEDICATED_INPUTS",
    "FLIP_FLOPS",
    "TIMED_CELLS",
    "PathTiming",
    "cell_arcs",
    "longest_path",
    "netlist_path",
]

#: Flip-flop cell types: a path starts at their ``Q`` and ends at their other inputs.
FLIP_FLOPS = frozenset({"FDRE", "FDSE", "FDCE", "FDPE", "FDRE_1", "FDSE_1", "FDCE_1", "FDPE_1"})
#: FDRE clock to Q, 303 ps (``cells_sim.v``); its setup time there is 0 (Project X-Ray: −46 ps).
CLOCK_TO_Q_NS = 0.303
#: Cells whose arcs are read from ``cells_sim.v``.
TIMED_CELLS = ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "MUXF7", "MUXF8", "CARRY4")
#: A DSP48E1 used as a combinational multiplier: A/B to P through it (``cells_sim.v``, ``USE_MULT = MULTIPLY``).
DSP48E1_ARC_NS = 2.823
#: Cell inputs fed by dedicated wires inside a slice, not general routing: the carry cascade into the
#: next CARRY4 and the LUT outputs into the wide multiplexers.
DEDICATED_INPUTS = frozenset({("CARRY4", "CI"), ("MUXF7", "I0"), ("MUXF7", "I1"), ("MUXF8", "I0"), ("MUXF8", "I1")})
#: Cells that carry no logic delay (constants, buffers Yosys leaves in).
ZERO_DELAY_CELLS = frozenset({"GND", "VCC", "BUFG", "IBUF", "OBUF", "INV"})

_ARC_RE = re.compile(r"^\s*\(\s*(\w+)(?:\[(\d+)\])?\s*=>\s*(\w+)(?:\[(\d+)\])?\s*\)\s*=\s*(\d+)\s*;", re.M)


def cell_arcs(cells_sim: str | Path) -> dict[str, dict[tuple[str, str], float]]:
    """Pin-to-pin delays in ns of :data:`TIMED_CELLS` from a ``cells_sim.v``: ``cell → {(in pin, out pin): ns}``.

    A bus pin is named with its bit, e.g. ``("S[1]", "CO[3]")``.

    Raises:
        FirmwareError: the file is missing or lacks one of the cells' ``specify`` blocks.
    """
    path = Path(cells_sim)
    try:
        text = path.read_text()
    except OSError as exc:
        msg = f"{path}: cannot read the cell models ({exc})"
        raise FirmwareError(msg) from exc
    arcs: dict[str, dict[tuple[str, str], float]] = {}
    for cell in TIMED_CELLS:
        m = re.search(rf"^module {cell}\s*\((.*?)^endmodule", text, re.M | re.S)
        found = (
            {}
            if m is None
            else {(_pin(a, ai), _pin(b, bi)): int(ps) / 1000.0 for a, ai, b, bi, ps in _ARC_RE.findall(m.group(1))}
        )
        if not found:
            msg = f"{path}: no timing arcs for {cell}"
            raise FirmwareError(msg)
        arcs[cell] = found
    return arcs


def _pin(name: str, bit: str) -> str:
    return f"{name}[{bit}]" if bit else name


@dataclass
class PathTiming:
    """The longest path found.

    Attributes:
        logic_ns: cell delays along it (clock-to-Q included when it starts at a flip-flop).
        hops: nets it crosses between two cells (each costs ``hop_ns`` of routing).
        hop_ns: the routing delay assumed per hop.
        cells: cell types along it, in order.
    """

    logic_ns: float
    hops: int
    hop_ns: float
    cells: list[str] = field(default_factory=list)

    @property
    def total_ns(self) -> float:
        """Logic plus the assumed routing."""
        return self.logic_ns + self.hops * self.hop_ns


#: ``name → (type, input pins → bits, output pins → bits)``: a flat netlist's cells.
Cells = Mapping[str, tuple[str, Mapping[str, list[Any]], Mapping[str, list[Any]]]]


def longest_path(
    cells: Cells,
    arcs: Mapping[str, Mapping[tuple[str, str], float]],
    *,
    starts: Mapping[int, float],
    ends: Iterable[int],
    hop_ns: float,
) -> PathTiming:
    """The longest path through the combinational ``cells`` from the ``starts`` bits to the ``ends`` bits.

    Each bit's arrival is the latest over its drivers' inputs of (input arrival + hop + arc delay);
    the comparison uses ``logic + hops · hop_ns``; a dedicated wire (:data:`DEDICATED_INPUTS`) is no hop.
    A combinational cell without known arcs is an error,
    not a zero delay. A DSP48E1 is timed as a combinational multiplier.

    Raises:
        FirmwareError: an untimed cell type, or a combinational loop.
    """
    # out bit → (in bit, delay, cell type, 1 when the in bit arrives over general routing, 0 on a dedicated wire)
    drivers: dict[int, list[tuple[int, float, str, int]]] = defaultdict(list)
    for name, (kind, inputs, outputs) in cells.items():
        if kind in FLIP_FLOPS:
            continue
        cell_arcs_ = _arcs_of(kind, inputs, outputs, arcs, name)
        for (in_pin, out_pin), delay in cell_arcs_.items():
            in_bit, out_bit = _bit(inputs, in_pin), _bit(outputs, out_pin)
            if isinstance(in_bit, int) and isinstance(out_bit, int):
                routed = 0 if (kind, in_pin.split("[")[0]) in DEDICATED_INPUTS else 1
                drivers[out_bit].append((in_bit, delay, kind, routed))

    best: dict[int, tuple[float, int, tuple[str, ...]]] = {b: (t, 0, ()) for b, t in starts.items()}
    state: dict[int, int] = {}

    def arrival(bit: int) -> tuple[float, int, tuple[str, ...]]:
        stack = [bit]
        while stack:
            b = stack[-1]
            if b in best:
                stack.pop()
                continue
            pending = [i for i, _, _, _ in drivers.get(b, []) if i not in best]
            if pending:
                if state.get(b) == 1:
                    msg = f"combinational loop through net bit {b}"
                    raise FirmwareError(msg)
                state[b] = 1
                stack.extend(pending)
                continue
            options = [
                (best[i][0] + d, best[i][1] + hop, (*best[i][2], kind)) for i, d, kind, hop in drivers.get(b, [])
            ]
            best[b] = max(options, key=lambda o: o[0] + o[1] * hop_ns) if options else (0.0, 0, ())
            stack.pop()
        return best[bit]

    worst: tuple[float, int, tuple[str, ...]] = (0.0, 0, ())
    for bit in ends:
        a = arrival(bit)
        a = (a[0], a[1] + (1 if a[2] else 0), a[2])  # the last hop, into the flip-flop or port
        if a[0] + a[1] * hop_ns > worst[0] + worst[1] * hop_ns:
            worst = a
    return PathTiming(logic_ns=round(worst[0], 6), hops=worst[1], hop_ns=hop_ns, cells=list(worst[2]))


def _arcs_of(
    kind: str,
    inputs: Mapping[str, list[Any]],
    outputs: Mapping[str, list[Any]],
    arcs: Mapping[str, Mapping[tuple[str, str], float]],
    name: str,
) -> dict[tuple[str, str], float]:
    if kind in arcs:
        return dict(arcs[kind])
    if kind in ZERO_DELAY_CELLS:
        return {(i, o): 0.0 for i in _pins(inputs) for o in _pins(outputs)}
    if kind == "DSP48E1":
        ins = [p for p in _pins(inputs) if p.startswith(("A[", "B[", "C[", "D["))]
        outs = [p for p in _pins(outputs) if p.startswith("P[")]
        return {(i, o): DSP48E1_ARC_NS for i in ins for o in outs}
    msg = f"cell {name}: no timing for cell type {kind}"
    raise FirmwareError(msg)


def _pins(ports: Mapping[str, list[Any]]) -> list[str]:
    return [p if len(bits) == 1 else f"{p}[{i}]" for p, bits in ports.items() for i in range(len(bits))]


def _bit(ports: Mapping[str, list[Any]], pin: str) -> Any:
    m = re.fullmatch(r"(\w+)(?:\[(\d+)\])?", pin)
    if m is None or m.group(1) not in ports:
        return None
    bits = ports[m.group(1)]
    index = int(m.group(2) or 0)
    return bits[index] if index < len(bits) else None


def netlist_path(netlist_json: str | Path, top: str, cells_sim: str | Path, *, hop_ns: float) -> PathTiming:
    """The longest register-to-register (or port) path of a flat Yosys JSON netlist (``write_json`` after
    ``flatten``), with :func:`cell_arcs` from ``cells_sim`` and ``hop_ns`` of routing per net.

    Raises:
        FirmwareError: unreadable netlist, no module ``top``, an untimed cell type.
    """
    path = Path(netlist_json)
    try:
        doc = json.loads(path.read_text())
        module = doc["modules"][top]
    except (OSError, ValueError, KeyError) as exc:
        msg = f"{path}: no module {top!r} in a readable Yosys JSON netlist ({exc})"
        raise FirmwareError(msg) from exc
    cells: dict[str, tuple[str, dict[str, list[Any]], dict[str, list[Any]]]] = {}
    starts: dict[int, float] = {}
    ends: list[int] = []
    for name, cell in module["cells"].items():
        if cell["type"] == "$scopeinfo":  # what flatten keeps of the hierarchy: no logic
            continue
        directions = cell.get("port_directions", {})
        ins = {p: b for p, b in cell["connections"].items() if directions.get(p) == "input"}
        outs = {p: b for p, b in cell["connections"].items() if directions.get(p) == "output"}
        cells[name] = (cell["type"], ins, outs)
        if cell["type"] in FLIP_FLOPS:
            starts.update({b: CLOCK_TO_Q_NS for b in outs.get("Q", []) if isinstance(b, int)})
            ends.extend(b for p, bits in ins.items() if p != "C" for b in bits if isinstance(b, int))
    for port in module["ports"].values():
        bits = [b for b in port["bits"] if isinstance(b, int)]
        if port["direction"] == "input":
            starts.update({b: 0.0 for b in bits})
        else:
            ends.extend(bits)
    return longest_path(cells, cell_arcs(cells_sim), starts=starts, ends=ends, hop_ns=hop_ns)

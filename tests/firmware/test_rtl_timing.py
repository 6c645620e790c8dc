"""The netlist path timing: the longest register-to-register path with 7-series cell delays."""

from __future__ import annotations

import pytest

from wnae.errors import FirmwareError
from wnae.firmware.rtl.timing import CLOCK_TO_Q_NS, cell_arcs, longest_path, netlist_path

ARCS = {"LUT2": {("I0", "O"): 0.5, ("I1", "O"): 0.25}, "LUT1": {("I0", "O"): 0.125}}


def test_the_longest_path_takes_the_slowest_arcs_and_counts_every_net():
    # a(I0: bit 2) ─┐            b(I0: bit 4)
    #   bit 3 ──────┴ LUT2 → 4 ──── LUT1 → 5
    cells = {"a": ("LUT2", {"I0": [2], "I1": [3]}, {"O": [4]}), "b": ("LUT1", {"I0": [4]}, {"O": [5]})}
    path = longest_path(cells, ARCS, starts={2: 0.0, 3: 1.0}, ends=[5], hop_ns=0.5)
    # from bit 3 (arrives at 1.0): 1.0 + 0.25 + 0.125 = 1.375 with 3 nets (3→a, 4→b, 5→end) beats
    # bit 2's 0 + 0.5 + 0.125 with the same nets
    assert path.logic_ns == pytest.approx(1.375) and path.hops == 3
    assert path.total_ns == pytest.approx(1.375 + 3 * 0.5) and path.cells == ["LUT2", "LUT1"]


def test_a_loop_and_an_untimed_cell_are_errors():
    loop = {"a": ("LUT1", {"I0": [3]}, {"O": [4]}), "b": ("LUT1", {"I0": [4]}, {"O": [3]})}
    with pytest.raises(FirmwareError, match="combinational loop"):
        longest_path(loop, ARCS, starts={}, ends=[4], hop_ns=0.1)
    with pytest.raises(FirmwareError, match="no timing for cell type MYSTERY"):
        longest_path({"m": ("MYSTERY", {"A": [2]}, {"Y": [3]})}, ARCS, starts={2: 0.0}, ends=[3], hop_ns=0.1)


def test_the_cell_delays_are_read_from_yosys_models():
    pytest.importorskip("pyosys")
    from wnae.firmware.rtl.tools import find_yosys

    cells_sim = find_yosys("pyosys").cells_sim("xilinx")
    assert cells_sim is not None
    arcs = cell_arcs(cells_sim)
    assert arcs["LUT6"][("I0", "O")] == pytest.approx(0.642)  # the slowest LUT6 input in Project X-Ray's data
    assert arcs["CARRY4"][("CI", "CO[3]")] > 0 and ("S[0]", "O[0]") in arcs["CARRY4"]


@pytest.mark.slow
def test_a_wider_registered_adder_has_a_longer_path(tmp_path):
    """Yosys synthesises a registered adder; its timed path grows with the carry chain, starts at a flip-flop."""
    pytest.importorskip("pyosys")
    from wnae.firmware.rtl.tools import find_yosys
    from wnae.firmware.rtl.yosys import run_yosys

    tool = find_yosys("pyosys")
    paths = {}
    for bits in (8, 32):
        rtl = tmp_path / f"add{bits}"
        (rtl / "src").mkdir(parents=True)
        (rtl / "src" / "top.v").write_text(
            f"module top(input clk, input [{bits - 1}:0] a, b, output reg [{bits}:0] s);\n"
            f"  reg [{bits - 1}:0] ra, rb;\n"
            "  always @(posedge clk) begin ra <= a; rb <= b; s <= ra + rb; end\nendmodule\n"
        )
        resources = run_yosys(rtl, "top", "xc7", tool, hop_ns=0.4)
        assert resources.carry >= bits // 4
        assert resources.critical_path is not None
        paths[bits] = resources.critical_path
        assert not (rtl / "netlist.json").exists()  # timed, then removed
    assert paths[32]["logic_ns"] > paths[8]["logic_ns"] > CLOCK_TO_Q_NS
    assert "CARRY4" in paths[32]["cells"] and paths[32]["total_ns"] > paths[32]["logic_ns"]


def test_a_bad_netlist_is_named(tmp_path):
    bad = tmp_path / "netlist.json"
    bad.write_text("{}")
    with pytest.raises(FirmwareError, match="netlist.json: no module 'top'"):
        netlist_path(bad, "top", tmp_path / "cells_sim.v", hop_ns=0.4)

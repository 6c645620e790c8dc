"""The latency model: adder levels × a delay per level, its range from the evidence, and the deployed AXOL1TLs.

The budget check's verdict uses the nominal delay per adder level; the margin line says how the
verdict moves across the range the public evidence allows (``docs/guide/rtl.md``). The deployed
networks must land where CMS's own firmware says they are: AXOL1TL v1, v3 and v4 in 2 clocks of 25 ns
within the model's range, v6 over the budget at every delay in it, as Vitis HLS's estimate also has it.
"""

from __future__ import annotations

import pytest

from tests.firmware.deployed_networks import PUBLISHED, deployed_axol1tl
from wnae.firmware.budgets import check_budget, latency_margin_line
from wnae.firmware.config import RtlConfig, resolve_target
from wnae.firmware.reports import SynthReport, TimingNumbers
from wnae.firmware.rtl.flow import DesignEstimate, estimate_design


def _timing(levels: float | None) -> TimingNumbers:
    model = (
        {} if levels is None else {"adder_levels": levels, "adder_delay_ns": (1.0, 1.5, 2.0), "usable_cycle_ns": 22.5}
    )
    return TimingNumbers("model", "rtl", 25.0, None, 2, 2, 1, 1, **model)


@pytest.mark.parametrize(
    ("levels", "margin", "reading"),
    [
        (20, 15.0, "fits at every delay in the range"),
        (29, 1.5, "within the model's uncertainty"),
        (33, -4.5, "within the model's uncertainty"),
        (61, -46.5, "over at every delay in the range"),
    ],
)
def test_the_margin_is_the_usable_time_less_the_levels(levels, margin, reading):
    line = latency_margin_line(_timing(levels), 50.0)
    assert line is not None
    assert line.measured == pytest.approx(margin)
    assert line.value.endswith(reading)
    low_end, high_end = 45.0 - 2.0 * levels, 45.0 - 1.0 * levels
    assert f"({low_end:+.1f} to {high_end:+.1f} ns" in line.value


def test_a_tool_report_has_no_margin_line():
    assert latency_margin_line(_timing(None), 50.0) is None
    report = SynthReport(report_dir=".", project_name="x", part="xc7vx690tffg1927-2", timing=(_timing(None),))
    check = check_budget(report, resolve_target("gt_run3"))
    assert "latency margin" not in [line.quantity for line in check.lines]


def test_the_check_summary_carries_the_margin():
    report = SynthReport(report_dir=".", project_name="x", part="xc7vx690tffg1927-2", timing=(_timing(29),))
    summary = check_budget(report, resolve_target("gt_run3")).summary()
    assert "latency margin +1.5 ns" in summary and "within the model's uncertainty" in summary


def test_the_range_is_per_family_ordered_and_holds_the_nominal_delay():
    assert resolve_target("gt_run3").adder_delay_range_ns == (1.0, 2.0)
    assert resolve_target("phase2_vu13p").adder_delay_range_ns == (0.7, 1.3)
    target = resolve_target("gt_run3").model_copy(update={"rtl": RtlConfig(adder_delay_ns=2.5)})
    assert target.adder_delay_range_ns == (1.0, 2.5)
    with pytest.raises(ValueError, match="adder_delay_range_ns must be"):
        RtlConfig(adder_delay_range_ns=(2.0, 1.0))


def test_cycles_at_a_delay():
    estimate = DesignEstimate(
        target="t", part="p", clock_period_ns=25.0, latency_cutoff=15, adder_delay_ns=1.5, adder_depth=29,
        latency_cycles=2, register_bits=0, lut_estimate=0.0, da4ml="da4ml", usable_cycle_ns=22.5,
    )  # fmt: skip
    assert [estimate.cycles_at(t) for t in (1.0, 1.5, 2.0)] == [2, 2, 3]
    with pytest.raises(ValueError, match="cycles_at"):
        estimate.cycles_at(0.0)


@pytest.fixture(scope="module")
def da_target():
    return resolve_target("gt_run3_da")  # LUT-only arithmetic, as deployed (0 DSP)


@pytest.mark.parametrize("name", ["v1", "v3", "v4"])
def test_deployed_axol1tl_lands_on_its_two_clocks_within_the_range(name, da_target):
    estimate = estimate_design(deployed_axol1tl(name), da_target)
    low, high = da_target.adder_delay_range_ns
    published_cycles = PUBLISHED[name][0]
    assert estimate.cycles_at(low) <= published_cycles <= estimate.cycles_at(high)
    line = latency_margin_line(estimate.synth_report().timing[0], da_target.budget.latency_ns)
    assert line is not None and "over at every delay" not in line.value


def test_deployed_v1_fits_at_the_nominal_delay(da_target):
    estimate = estimate_design(deployed_axol1tl("v1"), da_target)
    assert estimate.latency_cycles == PUBLISHED["v1"][0]
    assert check_budget(estimate.synth_report(), da_target).exit_code == 0


def test_axol1tl_v6_is_over_at_every_delay_as_the_vendor_estimate_says(da_target):
    from tests.firmware.test_axol1tl_shaped import axol1tl_shaped_model

    estimate = estimate_design(axol1tl_shaped_model(), da_target)
    check = check_budget(estimate.synth_report(), da_target)
    assert check.verdict == "exceeded"
    margin = next(line for line in check.lines if line.quantity == "latency margin")
    assert margin.value.endswith("over at every delay in the range")
    # Vitis HLS's own estimate of the deployed v6: 2 stages of 33.36 ns, inside the model's range of datapaths
    cycles, clock_ns, _ = PUBLISHED["v6"]
    low, high = da_target.adder_delay_range_ns
    assert estimate.adder_depth * low <= cycles * clock_ns <= estimate.adder_depth * high

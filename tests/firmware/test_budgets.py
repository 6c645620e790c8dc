from __future__ import annotations

import json

from wnae.firmware.budgets import check_budget
from wnae.firmware.config import load_firmware_config, resolve_target
from wnae.firmware.reports import ResourceNumbers, SynthReport, TimingNumbers, parse_reports


def test_fixture_within_budget(report_dir, passing_target):
    check = check_budget(parse_reports(report_dir), load_firmware_config(passing_target))
    assert check.verdict == "within budget"
    assert check.exit_code == 0
    checked = {line.quantity: line for line in check.lines if line.status != "info"}
    assert checked["latency (worst case)"].measured == 50.0
    assert checked["LUT"].source == "Vivado 2020.1 synthesis report (post-synthesis)"  # post-synthesis preferred
    table = check.to_markdown()
    assert "| ✓ | latency (worst case)     | 10 cycles = 50.0 ns = 2.00 BX | ≤ 50.0 ns (2.00 BX)" in table
    assert "2532 / 53200 = 4.76%" in table  # HLS estimate shown as information
    assert "Part capacity: Vivado HLS 2020.1 report AvailableResources" in table
    assert json.loads(json.dumps(check.to_dict()))["verdict"] == "within budget"


def test_fixture_exceeds_gt_budget(report_dir):
    check = check_budget(parse_reports(report_dir), resolve_target("gt_run3"))
    assert check.verdict == "exceeded"
    assert check.exit_code == 1
    failed = {line.quantity for line in check.failed}
    assert failed == {"part", "clock period (target)", "II (initiation interval)", "DSP"}
    assert "✗" in check.to_markdown()
    assert "EXCEEDED for target gt_run3" in check.summary()


def test_tighter_budgets_fail(report_dir, passing_target, tmp_path):
    text = (
        passing_target.read_text()
        .replace("latency_ns: 50.0", "latency_ns: 45.0")
        .replace("dsp_fraction: 0.35", "dsp_fraction: 0.25")
    )
    path = tmp_path / "tight.yml"
    path.write_text(text)
    check = check_budget(parse_reports(report_dir), load_firmware_config(path))
    assert {line.quantity for line in check.failed} == {"latency (worst case)", "DSP"}


def test_missing_number_is_incomplete_not_pass(tmp_path, passing_target):
    timing = TimingNumbers("HLS", "hls_estimate", 5.0, 4.0, 10, 10, 8, 8)
    report = SynthReport(report_dir=tmp_path, project_name="p", part="xc7z020clg400-1", timing=(timing,))
    check = check_budget(report, load_firmware_config(passing_target))
    assert check.verdict == "incomplete"
    assert check.exit_code == 3
    assert {line.quantity for line in check.unknown} == {"LUT", "FF", "DSP", "BRAM_18K"}


def test_phase2_clock_rounding_fits_one_bx(tmp_path):
    cfg = resolve_target("phase2_vu13p")  # 4.167 ns: 6 cycles = 25.002 ns must fit a 25 ns II
    timing = TimingNumbers("HLS", "hls_estimate", 4.167, 4.0, 24, 24, 6, 6)
    used = ResourceNumbers("Yosys 0.40 synth_xilinx", "synthesis", lut=11_000, ff=5_000, dsp=0, bram_18k=0, uram=0)
    report = SynthReport(report_dir=tmp_path, project_name="p", part="xcvu13p-flga2577-2-e", timing=(timing,))
    check = check_budget(report.with_resources(used), cfg)
    assert check.verdict == "within budget", check.to_markdown()
    lut = next(line for line in check.lines if line.quantity == "LUT")
    assert lut.source == "Yosys 0.40 synth_xilinx"
    assert lut.measured == 11_000 / 1_728_000


def test_resource_on_part_without_it_fails(tmp_path):
    cfg = resolve_target("gt_run3")
    report = SynthReport(report_dir=tmp_path, project_name="p", part="xc7vx690t-ffg1927-2").with_resources(
        ResourceNumbers("synth", "synthesis", lut=10, ff=10, dsp=0, bram_18k=0, uram=2)
    )
    uram = [line for line in check_budget(report, cfg).lines if line.quantity == "URAM"]
    assert uram[0].status == "info"  # not budgeted on the Virtex-7 target: shown, not checked
    assert "part has none" in uram[0].value

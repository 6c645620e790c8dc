from __future__ import annotations

import json
import shutil

import pytest

from tests.firmware.conftest import lay_out_reports
from wnae.errors import FirmwareError
from wnae.firmware.reports import (
    ResourceNumbers,
    TimingNumbers,
    find_report_files,
    normalise_hls4ml_report,
    parse_reports,
)


def test_fixture_numbers(report_dir):
    report = parse_reports(report_dir)
    assert report.project_name == "myproject"
    assert report.part == "xc7z020-clg400-1"
    (timing,) = report.timing
    assert timing.source == "Vivado HLS 2020.1 report (HLS estimate)"
    assert timing.stage == "hls_estimate"
    assert (timing.clock_period_target_ns, timing.clock_period_estimated_ns) == (5.0, 4.049)
    assert (timing.latency_best_cycles, timing.latency_worst_cycles) == (10, 10)
    assert (timing.ii_min_cycles, timing.ii_max_cycles) == (8, 8)
    assert timing.latency_worst_ns == 50.0
    assert timing.latency_worst_bx == 2.0

    hls, synth = report.resources
    assert hls.source == "Vivado HLS 2020.1 report (HLS estimate)"
    assert (hls.lut, hls.ff, hls.dsp, hls.bram_18k, hls.uram) == (2532, 7969, 73, 0, 0)
    assert (hls.lut_available, hls.ff_available, hls.dsp_available, hls.bram_18k_available) == (53200, 106400, 220, 280)
    assert hls.available_source == "Vivado HLS 2020.1 report AvailableResources"
    assert hls.fraction("lut") == pytest.approx(2532 / 53200)
    assert hls.fraction("uram") is None  # the part has no URAM

    assert synth.source == "Vivado 2020.1 synthesis report (post-synthesis)"
    assert synth.stage == "synthesis"
    assert (synth.lut, synth.ff, synth.dsp, synth.bram_18k) == (1526, 2428, 66, 0)
    assert synth.uram is None
    assert synth.fraction("dsp") == pytest.approx(0.30)

    assert report.primary_resources("lut") is synth
    assert report.primary_timing("latency_worst_cycles") is timing
    json.dumps(report.to_dict())  # plain data


def test_project_layout_with_project_tcl(tmp_path):
    report = parse_reports(lay_out_reports(tmp_path / "prj", project_tcl=True))
    assert report.timing[0].latency_worst_cycles == 10
    assert find_report_files(tmp_path / "prj").has_project_tcl


def test_only_vivado_synthesis_report(tmp_path):
    report = parse_reports(lay_out_reports(tmp_path / "r", csynth=False))
    assert report.timing == ()
    (synth,) = report.resources
    assert synth.lut == 1526
    assert synth.lut_available is None  # no C-synthesis report, part unknown: no invented capacity


def test_missing_reports_are_clear(tmp_path):
    with pytest.raises(FirmwareError, match="no such report directory"):
        parse_reports(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FirmwareError, match=r"empty: cannot tell the HLS project.*_csynth\.xml"):
        parse_reports(tmp_path / "empty")
    root = lay_out_reports(tmp_path / "r", csynth=False, vivado_synth=False)
    with pytest.raises(FirmwareError, match=r"no synthesis report: missing .*myproject_csynth\.xml"):
        parse_reports(root)


def test_missing_solution_dir(tmp_path):
    root = lay_out_reports(tmp_path / "r")
    shutil.rmtree(root / "myproject_prj" / "solution1")
    with pytest.raises(FirmwareError, match=r"vivado_hls\.app: lists solution\(s\) solution1, but no such directory"):
        parse_reports(root)


def test_truncated_xml_names_the_file(report_dir):
    xml = report_dir / "myproject_prj" / "solution1" / "syn" / "report" / "myproject_csynth.xml"
    text = xml.read_text()
    xml.write_text(text[: len(text) // 3])
    with pytest.raises(FirmwareError, match=r"myproject_csynth\.xml: truncated or corrupt XML"):
        parse_reports(report_dir)


def test_truncated_app_file(report_dir):
    app = report_dir / "myproject_prj" / "vivado_hls.app"
    app.write_text(app.read_text()[:200])
    with pytest.raises(FirmwareError, match=r"vivado_hls\.app: not a valid HLS project file"):
        parse_reports(report_dir)


def test_xml_without_area_section(report_dir):
    xml = report_dir / "myproject_prj" / "solution1" / "syn" / "report" / "myproject_csynth.xml"
    text = xml.read_text()
    start, end = text.index("<AreaEstimates>"), text.index("</AreaEstimates>") + len("</AreaEstimates>")
    xml.write_text(text[:start] + text[end:])
    with pytest.raises(FirmwareError, match=r"myproject_csynth\.xml: hls4ml's report parser failed"):
        parse_reports(report_dir)


def test_normalise_undefined_latency_and_bram_tiles(caplog):
    raw = {
        "CSynthesisReport": {
            "TargetClockPeriod": "4.17", "EstimatedClockPeriod": "3.9", "BestLatency": "undef",
            "WorstLatency": "undef", "IntervalMin": "1", "IntervalMax": "1",
            "LUT": "100", "FF": "50", "DSP": "0", "BRAM_18K": "0", "URAM": "0",
        },
        "VivadoSynthReport": {"LUT": "80", "FF": "40", "BRAM_18K": "0.5", "DSP48E": "0"},
    }  # fmt: skip
    timing, resources = normalise_hls4ml_report(raw, hls_tool="Vitis HLS 2023.2", part="xcvu13p-flga2577-2-e")
    assert timing[0].latency_worst_cycles is None
    assert "Worst-caseLatency is 'undef'" in caplog.text
    hls, synth = resources
    assert synth.bram_18k == 1.0  # 0.5 block-RAM tile (36 Kb) = one 18 Kb half
    assert hls.lut_available == 1_728_000  # from the part table, labelled so
    assert "DS890" in hls.available_source


def test_feed_numbers_from_another_source(report_dir):
    report = parse_reports(report_dir)
    yosys = ResourceNumbers(source="Yosys 0.40 synth_xilinx", stage="synthesis", lut=11_000, ff=900, dsp=0)
    later = report.with_resources(ResourceNumbers(source="Vivado 2020.1 impl", stage="implementation", lut=1400))
    assert later.primary_resources("lut").source == "Vivado 2020.1 impl"
    assert later.primary_resources("lut").lut_available == 53_200  # filled from the part table
    assert report.with_resources(yosys).resources[-1].source == "Yosys 0.40 synth_xilinx"
    rtl = TimingNumbers("da4ml estimate", "rtl", 5.0, None, 3, 3, 1, 1)
    assert report.with_timing(rtl).primary_timing("latency_worst_cycles").source == "da4ml estimate"
    with pytest.raises(ValueError, match="unknown report stage"):
        report.with_timing(TimingNumbers("x", "guess", 5.0))

"""The tool-calling path with a faked vivado_hls, and the synth-report command end to end."""

from __future__ import annotations

import json
import os
import stat

import pytest

from tests.firmware.conftest import REPORT_FIXTURE, lay_out_reports
from wnae.cli import main
from wnae.errors import FirmwareError, ToolNotFoundError
from wnae.firmware.tools import run_hls_build

FAKE_VIVADO_HLS = f"""#!/bin/sh
# Fake vivado_hls: prints hls4ml's stage markers and writes the real Vivado HLS 2020.1 reports.
echo "args: $*"
echo "***** C/RTL SYNTHESIS *****"
mkdir -p myproject_prj/solution1/syn/report
cp {REPORT_FIXTURE}/vivado_hls.app myproject_prj/
cp {REPORT_FIXTURE}/myproject_csynth.xml {REPORT_FIXTURE}/myproject_csynth.rpt myproject_prj/solution1/syn/report/
echo "***** C/RTL SYNTHESIS COMPLETED IN 0h0m1s *****"
"""

FAILING_VIVADO_HLS = """#!/bin/sh
echo "***** C/RTL SYNTHESIS *****"
echo "ERROR: [HLS 200-70] Compilation errors found: myproject.cpp:12: error"
exit 1
"""


def install_fake(bin_dir, name, script, monkeypatch):
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text(script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return path


def hls4ml_project(root):
    root.mkdir(parents=True)
    (root / "build_prj.tcl").write_text("# written by hls4ml\n")
    (root / "project.tcl").write_text('variable project_name\nset project_name "myproject"\nset backend "vivado"\n')
    return root


def test_fake_vivado_hls_runs_and_reports(tmp_path, monkeypatch, passing_target, capsys, caplog):
    install_fake(tmp_path / "bin", "vivado_hls", FAKE_VIVADO_HLS, monkeypatch)
    project = hls4ml_project(tmp_path / "prj")
    caplog.set_level("INFO")
    code = main(["synth-report", str(project), "--target", str(passing_target), "--json", str(tmp_path / "o.json")])
    log = (project / "wnae_build.log").read_text()
    assert "args: -f build_prj.tcl reset=False csim=False synth=True cosim=False" in log
    assert "C/RTL SYNTHESIS" in caplog.text  # progress streamed to the logger
    out = capsys.readouterr().out
    assert code == 0, out
    assert "| ✓ | latency (worst case)" in out
    data = json.loads((tmp_path / "o.json").read_text())
    assert data["verdict"] == "within budget"
    assert data["report"]["timing"][0]["latency_worst_cycles"] == 10


def test_tool_failure_points_to_log(tmp_path, monkeypatch):
    install_fake(tmp_path / "bin", "vivado_hls", FAILING_VIVADO_HLS, monkeypatch)
    project = hls4ml_project(tmp_path / "prj")
    with pytest.raises(FirmwareError, match=r"vivado_hls failed with exit status 1.*wnae_build\.log") as info:
        run_hls_build(project, "Vivado")
    assert "Compilation errors found" in str(info.value)


def test_tool_failure_via_cli_is_exit_2(tmp_path, monkeypatch, passing_target, capsys):
    install_fake(tmp_path / "bin", "vivado_hls", FAILING_VIVADO_HLS, monkeypatch)
    project = hls4ml_project(tmp_path / "prj")
    assert main(["synth-report", str(project), "--target", str(passing_target)]) == 2
    assert "wnae_build.log" in capsys.readouterr().err


def test_missing_tool_is_plain(tmp_path, monkeypatch, passing_target):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    project = hls4ml_project(tmp_path / "prj")
    with pytest.raises(ToolNotFoundError, match="vivado_hls not found on PATH"):
        run_hls_build(project, "Vivado")
    with pytest.raises(ToolNotFoundError, match="--run-synthesis: vivado_hls not found on PATH"):
        main(["--debug", "synth-report", str(project), "--target", str(passing_target), "--run-synthesis"])


def test_vitis_build_writes_build_opt(tmp_path, monkeypatch):
    install_fake(tmp_path / "bin", "vitis-run", FAKE_VIVADO_HLS, monkeypatch)
    project = hls4ml_project(tmp_path / "prj")
    result = run_hls_build(project, "Vitis")
    assert result.command[1:] == ("--tcl", "build_prj.tcl", "--mode", "hls")
    assert "synth      1" in (project / "build_opt.tcl").read_text()


def test_cli_pass_fail_and_no_fail(report_dir, passing_target, capsys):
    assert main(["synth-report", str(report_dir), "--target", str(passing_target)]) == 0
    assert main(["synth-report", str(report_dir), "--target", "gt_run3"]) == 1
    out = capsys.readouterr().out
    assert "EXCEEDED for target gt_run3" in out
    assert main(["synth-report", str(report_dir), "--target", "gt_run3", "--no-fail"]) == 0


def test_cli_reports_dir_for_a_run(tmp_path, passing_target, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "myrun").mkdir(parents=True)
    copy = lay_out_reports(tmp_path / "copied")
    assert main(["synth-report", "myrun", "--target", str(passing_target), "--reports", str(copy)]) == 0
    assert "WITHIN BUDGET" in capsys.readouterr().out


def test_cli_broken_reports_are_errors(report_dir, passing_target, capsys):
    xml = report_dir / "myproject_prj" / "solution1" / "syn" / "report" / "myproject_csynth.xml"
    xml.write_text(xml.read_text()[:500])
    assert main(["synth-report", str(report_dir), "--target", str(passing_target)]) == 2
    assert "myproject_csynth.xml: truncated or corrupt XML" in capsys.readouterr().err
    assert (
        main(["synth-report", str(report_dir), "--target", str(passing_target), "--reports", str(report_dir / "nope")])
        == 2
    )


def test_cli_no_reports_no_tools_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "myrun").mkdir(parents=True)
    code = main(["synth-report", "runs/myrun", "--target", "gt_run3", "--json", "o.json"])
    out = capsys.readouterr().out
    assert code == 3
    assert "No synthesis reports in hls_projects/myrun-gt_run3 and no vivado_hls on PATH" in out
    assert "No model file found" in out
    assert json.loads((tmp_path / "o.json").read_text())["verdict"] == "no reports"
    assert main(["synth-report", "runs/myrun", "--target", "gt_run3", "--no-fail"]) == 0

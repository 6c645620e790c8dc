"""Fixtures for the firmware tests: the real Vivado HLS 2020.1 reports laid out as hls4ml expects."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

#: Real reports of Vivado HLS 2020.1 + Vivado synthesis (copied from ../shared/fixtures; see its README).
REPORT_FIXTURE = Path(__file__).parent / "fixtures" / "vivado_hls_2020.1_report"

#: The default two-stage recipe, shrunk: 57 → 8 → 4-d embedding, head 4 → 2 → 4; 4-bit weights, half zero.
TINY_TWO_STAGE = {
    "model": "two_stage",
    "epochs": 4,
    "batch_size": 256,
    "max_train_events": 3000,
    "extractor": {"widths": [8], "embedding_dim": 4, "epochs": 2},
    "head": {"model": "wnae", "latent_dim": 2},
    "quant": {
        "input": {"bits": 14, "integer": 5},
        "weight": {"bits": 4, "integer": 1},
        "bias": {"bits": 5, "integer": 2},
        "activation": {"bits": 8, "integer": 4, "signed": False},
        "embedding": {"bits": 8, "integer": 3},
        "output": {"bits": 8, "integer": 3},
        "diff": {"bits": 7, "integer": 3},
    },
    "pruning": {"sparsity": 0.5, "begin": 0.0, "end": 1.0},
    "mcmc": {"steps": 3, "buffer_size": 1024, "pretrain_epochs": 1, "bound": 6.0},
}

PASSING_TARGET = """\
backend: Vivado
part: xc7z020clg400-1
clock_period_ns: 5.0
io_type: io_stream
budget:
  latency_ns: 50.0
  ii_cycles: 8
  lut_fraction: 0.05
  ff_fraction: 0.10
  dsp_fraction: 0.35
  bram_fraction: 0.01
"""


def lay_out_reports(root: Path, *, csynth: bool = True, vivado_synth: bool = True, project_tcl: bool = False) -> Path:
    """Copy the fixture reports into ``root`` the way an hls4ml project holds them."""
    report = root / "myproject_prj" / "solution1" / "syn" / "report"
    report.mkdir(parents=True)
    shutil.copy(REPORT_FIXTURE / "vivado_hls.app", root / "myproject_prj" / "vivado_hls.app")
    if csynth:
        for suffix in ("xml", "rpt"):
            shutil.copy(REPORT_FIXTURE / f"myproject_csynth.{suffix}", report / f"myproject_csynth.{suffix}")
    if vivado_synth:
        shutil.copy(REPORT_FIXTURE / "vivado_synth.rpt", root / "vivado_synth.rpt")
    if project_tcl:
        (root / "project.tcl").write_text(
            'variable project_name\nset project_name "myproject"\nvariable backend\nset backend "vivado"\n'
            'variable part\nset part "xc7z020clg400-1"\nvariable clock_period\nset clock_period 5\n'
        )
    return root


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    """A copy of the reports without project.tcl (as copied from a machine with the tools)."""
    return lay_out_reports(tmp_path / "reports")


@pytest.fixture
def passing_target(tmp_path: Path) -> Path:
    """A target for the fixture's part and clock whose budget the fixture meets."""
    path = tmp_path / "zynq_pass.yml"
    path.write_text(PASSING_TARGET)
    return path

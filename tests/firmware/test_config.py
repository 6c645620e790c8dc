from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest

import wnae.firmware.config as firmware_config
from wnae.errors import ConfigError
from wnae.firmware.config import (
    FIRMWARE_CONFIG_DIR,
    PACKAGED_TARGET_DIR,
    find_target,
    list_targets,
    load_firmware_config,
    resolve_target,
)
from wnae.firmware.parts import part_capacity
from wnae.fixed_point.ap_types import parse_ap_type

BASE = """\
backend: Vivado
part: xc7vx690tffg1927-2
clock_period_ns: 25.0
budget:
  latency_ns: 50.0
"""


def write(tmp_path, text, name="t.yml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_targets_load():
    names = list_targets()
    assert {"gt_run3", "gt_run3_da", "phase2_vu13p"} <= set(names)
    for name in names:
        cfg = resolve_target(name)
        assert cfg.name == name
        assert cfg.capacity is not None, f"{name}: part {cfg.part} has no capacity entry"


def test_gt_run3_numbers():
    cfg = resolve_target("gt_run3")
    assert cfg.part == "xc7vx690tffg1927-2"
    assert cfg.clock_period_ns == 25.0
    assert cfg.clock_frequency_mhz == pytest.approx(40.0)
    assert cfg.budget.latency_ns == 50.0
    assert cfg.budget.ii_limit_cycles(cfg.clock_period_ns) == 1.0
    assert cfg.capacity.lut == 433_200 and cfg.capacity.uram == 0
    target = cfg.hls4ml_target()
    assert (target.backend, target.io_type, target.strategy, target.reuse_factor) == (
        "Vivado",
        "io_parallel",
        "Latency",
        1,
    )


def test_phase2_and_da_targets():
    p2 = resolve_target("phase2_vu13p")
    assert p2.part.startswith("xcvu13p") and p2.capacity.dsp == 12_288 and p2.capacity.bram_18k == 5_376
    assert p2.backend == "Vitis"
    assert resolve_target("gt_run3_da").strategy == "distributed_arithmetic"


def test_resolve_by_path_and_name_default(tmp_path):
    cfg = resolve_target(write(tmp_path, BASE, "mytarget.yml"))
    assert cfg.name == "mytarget"
    assert cfg.precision.default == "ap_fixed<16,6>"


def test_unknown_target_lists_known():
    with pytest.raises(ConfigError, match="unknown firmware target 'nope'.*gt_run3"):
        resolve_target("nope")


def test_missing_file_names_it(tmp_path):
    with pytest.raises(ConfigError, match="missing.yml: config file not found"):
        load_firmware_config(tmp_path / "missing.yml")


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ("precision:\n  default: ap_fixed<16>\n", r"precision\.default.*not an HLS fixed-point type"),
        (
            "precision:\n  layers:\n    dense_1: {weight: 'ap_fixed<8,2,AP_ROUND>'}\n",
            r"precision\.layers\.dense_1\.weight.*unknown rounding",
        ),
        ("strategy: distributed_arithmetic\nreuse_factor: 4\n", "needs reuse_factor 1"),
        ("io_type: io_serial\n", "io_type"),
        ("strategy: latency\n", "strategy"),
    ],
)
def test_invalid_values_are_clear(tmp_path, extra, match):
    path = write(tmp_path, BASE + extra)
    with pytest.raises(ConfigError, match=match) as info:
        load_firmware_config(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("budget", "match"),
    [
        ("  ii_cycles: 1\n  ii_ns: 25\n", "not both"),
        ("  lut_fraction: 5\n", r"budget\.lut_fraction.*less than or equal to 1"),
        ("  lut_fractoin: 0.1\n", "did you mean 'lut_fraction'"),
        ("  latency_ns: -1\n", r"budget\.latency_ns"),
    ],
)
def test_invalid_budget(tmp_path, budget, match):
    text = BASE.replace("  latency_ns: 50.0\n", budget)
    with pytest.raises(ConfigError, match=match):
        load_firmware_config(write(tmp_path, text))


def test_bad_part_and_missing_keys(tmp_path):
    with pytest.raises(ConfigError, match="not a Xilinx part"):
        load_firmware_config(write(tmp_path, BASE.replace("xc7vx690tffg1927-2", "10AX115S2F45I1SG")))
    with pytest.raises(ConfigError, match="'budget': Field required"):
        load_firmware_config(write(tmp_path, "backend: Vivado\npart: xc7z020clg400-1\nclock_period_ns: 5\n"))


def test_parse_ap_type():
    t = parse_ap_type("ap_ufixed<18, 14, AP_RND, AP_SAT>")
    assert (t.signed, t.total_bits, t.integer_bits, t.fractional_bits) == (False, 18, 14, 4)
    assert (t.rounding, t.saturation, t.text) == ("AP_RND", "AP_SAT", "ap_ufixed<18,14,AP_RND,AP_SAT>")
    assert parse_ap_type("ap_int<8>").integer_bits == 8
    assert parse_ap_type("ap_fixed<8,-2>").fractional_bits == 10
    for bad in ("ap_fixed<0,0>", "float", "ap_fixed<16,6,AP_RND,AP_CLAMP>", "ap_fixed<2000,6>"):
        with pytest.raises(ValueError, match="ap_fixed|width|saturation|fixed-point"):
            parse_ap_type(bad)


def test_part_capacity_ignores_package_and_dashes():
    assert part_capacity("xc7z020-clg400-1") == part_capacity("xc7z020clg400-1")
    assert part_capacity("XCVU9P-FLGA2104-2L-E").dsp == 6_840
    assert part_capacity("xc7k325tffg900-2") is None


def test_config_dir_is_the_repository_one():
    assert (FIRMWARE_CONFIG_DIR / "README.md").is_file()


REPO = Path(__file__).resolve().parents[2]


def test_without_a_checkout_the_shipped_targets_are_found(tmp_path, monkeypatch):
    """An installed wnae (pip install ., not -e) has no <repository>/firmware_configs: the shipped targets are
    package data and found there."""
    monkeypatch.setattr(firmware_config, "FIRMWARE_CONFIG_DIR", tmp_path / "site-packages" / "firmware_configs")
    monkeypatch.chdir(tmp_path)
    assert firmware_config.target_dirs() == [PACKAGED_TARGET_DIR]
    assert find_target("gt_run3") == PACKAGED_TARGET_DIR / "gt_run3.yml"
    assert resolve_target("gt_run3").part == "xc7vx690tffg1927-2"
    assert {"gt_run3", "gt_run3_da", "phase2_vu13p"} <= set(list_targets())


def test_the_users_firmware_configs_come_before_the_shipped_targets(tmp_path, monkeypatch):
    monkeypatch.setattr(firmware_config, "FIRMWARE_CONFIG_DIR", tmp_path / "no_checkout")
    monkeypatch.chdir(tmp_path)
    own = tmp_path / "firmware_configs"
    own.mkdir()
    (own / "gt_run3.yml").write_text(
        (PACKAGED_TARGET_DIR / "gt_run3.yml").read_text().replace("clock_period_ns: 25.0", "clock_period_ns: 12.5")
    )
    write(own, BASE, "mine.yml")
    assert find_target("gt_run3") == Path("firmware_configs/gt_run3.yml").absolute()
    assert resolve_target("gt_run3").clock_period_ns == 12.5  # the user's edited copy
    assert resolve_target("gt_run3_da").strategy == "distributed_arithmetic"  # the shipped one
    assert {"mine", "gt_run3", "gt_run3_da"} <= set(list_targets())
    with pytest.raises(ConfigError, match=r"no nope.yml in .*firmware_configs/, .*targets/; known targets: .*mine"):
        resolve_target("nope")


def test_the_shipped_targets_are_package_data_and_the_build_reads_the_license():
    doc = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = doc["tool"]["setuptools"]["package-data"]["wnae"]
    shipped = sorted(PACKAGED_TARGET_DIR.glob("*.yml"))
    assert shipped
    for path in shipped:
        relative = path.relative_to(REPO / "wnae").as_posix()
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), f"{relative} is not package data"
    # a PEP 639 license string needs setuptools >= 77 to build (65.5 rejects it)
    assert isinstance(doc["project"]["license"], str)
    assert "setuptools>=77" in doc["build-system"]["requires"]
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert ci.index("make install") < ci.index("make test") < ci.index("make wheel-check")

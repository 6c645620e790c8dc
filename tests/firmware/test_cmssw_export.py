"""Raw L1 hardware inputs scaled as on chip, and the CMSSW emulator plug-in built from a run.

The scaling model is checked against g++ and the ``ap_types`` headers; the plug-in is built with
make/g++, loaded with ``dlopen`` as ``hls4mlEmulator::ModelLoader`` does, and compared bit for bit
with the exact reference and with hls4ml's C simulation on ≥ 10k events and edge cases.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import write_toy_data_dir
from tests.firmware.conftest import TINY_TWO_STAGE
from wnae.cli import main
from wnae.config import parse_config
from wnae.data.hardware_inputs import L1HardwareNormaliser, hardware_edge_cases, l1_hardware_integers, scale_hardware
from wnae.data.preprocess import FixedPointNormaliser, fit_normaliser, load_normaliser
from wnae.data.schema import FEATURE_NAMES, N_FEATURES, N_OBJECTS
from wnae.errors import DataError, FirmwareError
from wnae.evaluate.config import EvaluateConfig
from wnae.evaluate.run import evaluate_run
from wnae.firmware.cmssw import check_plugin, export_cmssw
from wnae.firmware.config import resolve_target
from wnae.firmware.convert import convert_model
from wnae.fixed_point.reference import exact_reference
from wnae.models.config import TrainConfig
from wnae.models.serialization import load_run
from wnae.train.loop import train

needs_gxx = pytest.mark.skipif(shutil.which("g++") is None or shutil.which("make") is None, reason="needs g++ and make")

_PROBE = """
#include "ap_fixed.h"
#include <cstdio>
int main() {
  long hw, off, sh;
  while (std::scanf("%ld %ld %ld", &hw, &off, &sh) == 3) {
    ap_fixed<18,13> x = hw; ap_fixed<10,10> o = off; ap_fixed<5,5> s = sh;
    ap_fixed<18,13> d = x - o;
    ap_fixed<18,13> y = d >> s;
    std::printf("%ld\\n", (long)(y * 32).to_int64());
  }
}
"""


def _ap_types() -> Path:
    import hls4ml

    return Path(hls4ml.__file__).parent / "templates" / "vivado" / "ap_types"


@needs_gxx
def test_scaling_is_that_of_ap_fixed(tmp_path):
    """(x − offset) >> shift in ap_fixed<18,13>, as AXOL1TL's scaleNNInputs: wrap, floor, negative shifts."""
    src = tmp_path / "probe.cpp"
    src.write_text(_PROBE)
    subprocess.run(
        ["g++", "-O1", "-std=c++17", f"-I{_ap_types()}", str(src), "-o", str(tmp_path / "probe")], check=True
    )
    rng = np.random.default_rng(0)
    n = 20_000
    hw = np.concatenate([rng.integers(-4096, 4096, n), [-4096, 4095, 0, 5000, -5000, 4095, -4096, 7, -7, 1000]])
    off = np.concatenate([rng.integers(-512, 512, n), [511, -512, 0, 0, 0, -512, 511, 0, 0, 0]])
    sh = np.concatenate([rng.integers(-16, 16, n), [0, -16, 15, 0, -1, 0, 0, 6, 6, -4]])
    text = "\n".join(f"{a} {b} {c}" for a, b, c in zip(hw, off, sh, strict=True))
    out = subprocess.run([str(tmp_path / "probe")], input=text, capture_output=True, text=True, check=True).stdout
    cpp = np.array(out.split(), np.int64)
    ours = np.ldexp(scale_hardware(hw, off, sh).astype(np.float64), 5).astype(np.int64)
    assert len(cpp) == len(hw)
    assert np.array_equal(ours, cpp)
    # the three cases the old normaliser could not express
    assert ours[-3] == 3 and ours[-2] == -4  # 7 >> 6 = 0.109 floors to 3/32; −7 >> 6 to −4/32
    assert ours[-1] == -12288  # 1000 << 4 = 16000 wraps in 18 bits to −384


def test_hardware_integers_follow_cmssw_units():
    event = np.zeros((1, N_OBJECTS, 4), np.float32)
    event[0, 0, :3] = [51.3, 0.0, -0.1]  # MET: hwPt 103 → 51; φ in calo units, taken in [0, 2π)
    event[0, 1, :3] = [20.0, 1.0, 3.1]  # e/γ: calo η 0.0435, φ 2π/144
    event[0, 5, :3] = [7.4, 1.0, -0.1]  # muon at the vertex: η 0.010875, φ 2π/576
    event[0, 9, :3] = [0.6, -2.0, 0.5]  # jet below 1 GeV: pT input 0, η/φ kept (as CMSSW)
    hw = l1_hardware_integers(event)[0]
    assert hw[0:3].tolist() == [51, 0, round((2 * math.pi - 0.1) / (2 * math.pi / 144))]
    assert hw[3:6].tolist() == [20, round(1.0 / 0.0435), round(3.1 / (2 * math.pi / 144))]
    muon = 3 * 5
    assert hw[muon : muon + 3].tolist() == [7, round(1.0 / 0.010875), round((2 * math.pi - 0.1) / (2 * math.pi / 576))]
    jet = 3 * 9
    assert hw[jet : jet + 3].tolist() == [0, round(-2.0 / 0.0435), round(0.5 / (2 * math.pi / 144))]
    assert not hw[6:9].any()  # empty e/γ slot


def test_fit_gives_negative_shifts_and_round_trips(tmp_path, particles):
    x = particles.copy()
    x[:, 0, 1] = 0.0  # MET η: constant → shift 0
    norm = fit_normaliser([x], "l1_hardware")
    assert isinstance(norm, L1HardwareNormaliser)
    hw = l1_hardware_integers(x)
    std = hw.std(axis=0)
    assert norm.shift[1] == 0
    assert np.all(std[std > 0] / 2.0 ** norm.shift[std > 0] <= 1.0)
    assert np.all(std[std > 0] / 2.0 ** norm.shift[std > 0] > 0.5)
    norm.save(tmp_path / "n.json")
    again = load_normaliser(tmp_path / "n.json")
    assert np.array_equal(again.transform(x), norm.transform(x))
    assert np.array_equal(norm.transform(x), scale_hardware(hw, norm.offset, norm.shift))
    given = {"kind": "l1_hardware", "offset": [14] + [0] * 56, "shift": [3, 0, 6] + [-1] * 54}  # AXOL1TL-like
    (tmp_path / "given.json").write_text(json.dumps(given))
    assert load_normaliser(tmp_path / "given.json").shift[5] == -1


def test_a_fit_with_a_spread_below_one_unit_shifts_left():
    from wnae.data.preprocess import FeatureMoments

    m = FeatureMoments()
    hw = np.zeros((100, N_FEATURES))
    hw[:, 4] = np.arange(100) % 2  # std 0.5 units
    m.update(hw)
    norm = L1HardwareNormaliser.fit_moments(m)
    assert norm.shift[4] == -1


def test_scales_outside_their_types_are_refused(tmp_path):
    with pytest.raises(DataError, match=f"input '{FEATURE_NAMES[2]}': offset 600 is outside"):
        L1HardwareNormaliser(np.array([0, 0, 600] + [0] * 54), np.zeros(57))
    with pytest.raises(DataError, match="shift -17 is outside"):
        L1HardwareNormaliser(np.zeros(57), np.array([-17] + [0] * 56))
    (tmp_path / "bad.json").write_text(json.dumps({"kind": "l1_hardware", "offset": [0] * 56, "shift": [0] * 57}))
    with pytest.raises(DataError, match="'offset' must be 57 integers"):
        load_normaliser(tmp_path / "bad.json")


TINY = {**TINY_TWO_STAGE, "epochs": 3, "normalisation": "l1_hardware"}


@pytest.fixture(scope="module")
def hardware_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hardware_run")
    data = write_toy_data_dir(root / "data", n_background=4000, n_zero_bias=4000, n_signal=1500)
    run_dir = train(
        parse_config(TrainConfig, TINY), data_dir=data, runs_dir=root / "runs", name="hw", progress=False
    ).run_dir
    return root, data, run_dir


@pytest.mark.slow
@pytest.mark.csim
@needs_gxx
def test_the_plugin_is_bit_exact_with_the_reference_and_csim(hardware_run):
    root, data, run_dir = hardware_run
    evaluate_run(run_dir, data_dir=data, config=EvaluateConfig(plots=False, input_rate_khz=4000.0))
    run = load_run(run_dir)
    assert isinstance(run.normaliser, L1HardwareNormaliser)
    target = resolve_target("gt_run3")
    export = export_cmssw(run, target, root / "GTADModel_hw", name="GTADModel_hw")
    d = export.directory
    menu = json.loads((d / "menu.json").read_text())
    assert menu["score_type"] == "ap_ufixed<18,14>" and menu["thresholds"]
    assert all(t["threshold_geq"] == t["threshold_int"] + 1 for t in menu["thresholds"])
    for f in (
        "NN/GTADModel_hw.cpp",
        "NN/GTADModel_hw.h",
        "NN/defines.h",
        "scales.h",
        "GTADModel_hw_emulator.cpp",
        "Makefile",
        "README.md",
        "export.json",
        "include/hls4ml/emulator.h",
        "include/ap_types/ap_fixed.h",
    ):
        assert (d / f).is_file(), f
    assert "namespace wnae_gtadmodel_hw" in (d / "NN" / "GTADModel_hw.h").read_text()
    assert not list((d / "NN").rglob("*.txt"))  # weights compiled in
    scales = (d / "scales.h").read_text()
    assert "typedef ap_fixed<18,13> unscaled_t;" in scales
    assert ", ".join(str(v) for v in run.normaliser.shift) in scales

    check = check_plugin(run, export, data, n_events=10_000)
    assert check.events >= 10_000
    assert check.edge_cases == len(hardware_edge_cases())
    assert check.bit_exact, check.summary()
    assert json.loads((d / "check.json").read_text())["bit_exact"] is True

    # the same hardware integers through hls4ml's C simulation: the same scores
    from wnae.firmware.compare import collect_events, deployed_model

    particles, _, _ = collect_events(data, 10_000)
    hw = np.concatenate([l1_hardware_integers(particles), hardware_edge_cases()])
    x = run.normaliser.transform_hardware(hw)
    model, _ = deployed_model(run, target)
    project = convert_model(model, target, root / "csim_project")
    csim = np.asarray(project.hls_model.predict(np.ascontiguousarray(x, np.float64)), np.float64).reshape(len(x), -1)
    ref = exact_reference(model, x, compare_qkeras=False).outputs.reshape(len(x), -1)
    assert np.array_equal(csim, ref)
    loaded = subprocess.run(
        [str(d / "check" / "load_plugin"), str(d / "GTADModel_hw.so"), str(d / "check" / "inputs.bin"), "57"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert np.array_equal(np.array(loaded, np.int64), np.ldexp(csim[:, 0], 4).astype(np.int64))


def test_export_refuses_a_run_without_hardware_inputs(hardware_run, tmp_path):
    _, _, run_dir = hardware_run
    run = load_run(run_dir)
    lsb = np.ones(N_FEATURES)
    other = dataclasses.replace(
        run, normaliser=FixedPointNormaliser(lsb, np.zeros(57, np.int64), np.zeros(57, np.int64))
    )
    with pytest.raises(FirmwareError, match="trained with normalisation 'fixed_point'.*l1_hardware"):
        export_cmssw(other, resolve_target("gt_run3"), tmp_path / "x", name="GTADModel_x")
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.partial").exists()
    with pytest.raises(FirmwareError, match="must be a C\\+\\+ identifier"):
        export_cmssw(run, resolve_target("gt_run3"), tmp_path / "y", name="1bad-name")


def test_cli_export_never_overwrites(hardware_run, tmp_path, capsys):
    _root, data, run_dir = hardware_run
    out = tmp_path / "plugin"
    out.mkdir()
    (out / "keep.txt").write_text("finished work")
    rc = main(["export", "cmssw", str(run_dir), "--output", str(out), "--no-check", "--data-dir", str(data)])
    assert rc == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "finished work"
    assert (
        main(
            [
                "export",
                "cmssw",
                str(run_dir),
                "--output",
                str(out),
                "--no-check",
                "--overwrite",
                "--name",
                "GTADModel_cli",
            ]
        )
        == 0
    )
    assert (out / "GTADModel_cli_emulator.cpp").is_file() and not (out / "keep.txt").exists()

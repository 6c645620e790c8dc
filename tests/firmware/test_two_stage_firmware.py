"""CI gate for the deployable two-stage trigger: a tiny VICReg + WNAE model, pruned and low-bit.

It must be bit-exact in hls4ml's C simulation (Latency and distributed-arithmetic HLS) and in the
Verilator simulation of the da4ml RTL on ≥ 10k events, fit the Run-3 Global Trigger budget from
the RTL numbers (2 clocks at 40 MHz, II 1, Yosys LUT ≤ 5 %, 0 DSP), and a budget it misses fails
with the line that exceeds.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("da4ml")

from tests.conftest import write_toy_data_dir
from tests.firmware.conftest import TINY_TWO_STAGE
from wnae.config import parse_config
from wnae.evaluate.config import EvaluateConfig
from wnae.evaluate.run import evaluate_run
from wnae.firmware.budgets import check_budget
from wnae.firmware.config import resolve_target
from wnae.firmware.csim import require_bit_exact, run_csim
from wnae.firmware.rtl import require_bit_exact_rtl, run_rtl
from wnae.models.config import TrainConfig
from wnae.models.pruning import kernel_sparsity
from wnae.models.serialization import load_run
from wnae.train.loop import train

pytestmark = [pytest.mark.rtl, pytest.mark.csim, pytest.mark.slow]


@pytest.fixture(scope="module")
def two_stage(tmp_path_factory):
    root = tmp_path_factory.mktemp("two_stage")
    data = write_toy_data_dir(root / "data", n_background=4000, n_zero_bias=4000, n_signal=1500)
    run_dir = train(
        parse_config(TrainConfig, TINY_TWO_STAGE), data_dir=data, runs_dir=root / "runs", name="ts", progress=False
    ).run_dir
    # working points (score > threshold), which the simulations check decision by decision
    evaluate_run(run_dir, data_dir=data, config=EvaluateConfig(plots=False, input_rate_khz=4000.0))
    return root, data, run_dir


def test_the_deployed_model_is_pruned(two_stage):
    _, _, run_dir = two_stage
    model = load_run(run_dir).deploy_model
    dense = [layer for layer in model.layers if layer.__class__.__name__ == "QDense"]
    assert [layer.name for layer in dense] == ["ext_dense0", "embedding", "latent", "reconstruction"]
    assert all(kernel_sparsity(layer) >= 0.5 for layer in dense)


@pytest.mark.parametrize("target_name", ["gt_run3", "gt_run3_da"])
def test_csim_is_bit_exact(two_stage, target_name):
    root, data, run_dir = two_stage
    result = run_csim(run_dir, resolve_target(target_name), data_dir=data, hls_projects=root / "hls", n_events=10_000)
    require_bit_exact(result)
    assert result.n_events >= 10_000 and result.n_mismatch == 0
    assert result.threshold_source.startswith("working_points.json")
    # the menu's integer cuts on the firmware's own score bits decide as score > threshold does
    menu = json.loads((root / "hls" / f"ts-{target_name}" / "menu.json").read_text())
    assert menu == {**result.menu, "source": str(run_dir / "working_points.json")}
    assert menu["score_type"] == "ap_ufixed<18,14>"  # the default score type (quant.score)
    assert set(result.menu_flips) == set(result.thresholds) and not any(result.menu_flips.values())
    for cut in menu["thresholds"]:
        assert cut["threshold_int"] == np.floor(result.thresholds[cut["name"]] / menu["lsb"])


def test_rtl_is_bit_exact_and_fits_the_global_trigger(two_stage):
    root, data, run_dir = two_stage
    target = resolve_target("gt_run3_da")
    assert target.budget.lut_fraction == 0.05  # AXOL1TL's footprint
    result = run_rtl(run_dir, target, data_dir=data, hls_projects=root / "hls", n_events=10_000)
    require_bit_exact_rtl(result)
    assert result.n_events >= 10_000 and result.n_mismatch == 0
    assert np.isfinite(result.max_abs_diff)
    assert result.latency_cycles <= 2 and result.ii_cycles == 1
    script = (root / "hls" / "ts-gt_run3_da" / "rtl" / "synth.ys").read_text()
    assert "memory_map" in script  # the score head's squares are lookup tables, mapped to LUT logic
    check = check_budget(result.synth_report(), target)
    assert check.verdict == "within budget", check.to_markdown()
    assert result.resources["dsp"] == 0 and result.resources["lut"] > 0
    one_clock = target.model_copy(update={"budget": target.budget.model_copy(update={"latency_ns": 25.0})})
    if result.latency_cycles == 2:
        failed = check_budget(result.synth_report(), one_clock)
        assert failed.verdict == "exceeded" and failed.exit_code == 1
        assert [line.quantity for line in failed.failed] == ["latency (worst case)"]
        assert "latency (worst case)" in failed.to_markdown()

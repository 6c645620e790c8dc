"""CI gate: small trained models → hls4ml (Vivado and Vitis) → g++ C simulation, bit for bit.

For the WNAE score, the VAE's Σμ² encoder head and the MLP encoder (latent and its on-chip
Mahalanobis score): 0 mismatching outputs and 0 changed trigger decisions on ≥ 10k events.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import write_toy_data_dir
from wnae.config import parse_config
from wnae.firmware.compare import collect_events
from wnae.firmware.config import resolve_target
from wnae.firmware.csim import require_bit_exact, run_csim
from wnae.fixed_point.reference import exact_reference
from wnae.models.config import TrainConfig
from wnae.models.serialization import load_run
from wnae.train.loop import train

pytestmark = [pytest.mark.csim, pytest.mark.slow]


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    root = tmp_path_factory.mktemp("gate")
    data = write_toy_data_dir(root / "data", n_background=5000, n_zero_bias=4000, n_signal=2000)
    runs = {}
    for model in ("wnae", "vae", "mlp_encoder"):
        cfg = parse_config(
            TrainConfig,
            {
                "model": model,
                "epochs": 2,
                "batch_size": 256,
                "max_train_events": 4000,
                "architecture": {"encoder": [16, 8], "latent_dim": 4},
                "mcmc": {"steps": 3, "buffer_size": 1024, "pretrain_epochs": 1},
                "gmm": {"max_components": 2},
            },
        )
        runs[model] = train(cfg, data_dir=data, runs_dir=root / "runs", name=model, progress=False).run_dir
    return root, data, runs


@pytest.mark.parametrize("backend", ["Vivado", "Vitis"])
@pytest.mark.parametrize(
    ("model", "output"), [("wnae", "score"), ("vae", "score"), ("mlp_encoder", "latent"), ("mlp_encoder", "score")]
)
def test_bit_exact(gate, backend, model, output):
    root, data, runs = gate
    target = resolve_target("gt_run3").model_copy(
        update={"backend": backend, "deployed_output": output, "name": f"{backend.lower()}-{output}"}
    )
    result = run_csim(runs[model], target, data_dir=data, hls_projects=root / "hls", n_events=10_000)
    assert result.n_events >= 10_000
    assert result.model_output == output
    require_bit_exact(result)  # 0 mismatching outputs, 0 decision flips
    assert result.n_mismatch == 0
    assert set(result.decision_flips) == {"Loose", "Medium", "Tight"}
    summary = json.loads((root / "hls" / f"{model}-{target.name}" / "csim.json").read_text())
    assert summary["bit_exact"] is True
    assert (root / "hls" / f"{model}-{target.name}" / "tb_data" / "tb_input_features.dat").is_file()
    # the comparison is not vacuous: the outputs vary from event to event
    assert np.std(np.loadtxt(root / "hls" / f"{model}-{target.name}" / "tb_data" / "tb_output_predictions.dat")) > 0


@pytest.mark.parametrize("model", ["wnae", "vae", "mlp_encoder"])
def test_distributed_arithmetic_is_bit_exact(gate, model):
    """hls4ml's distributed_arithmetic strategy (gt_run3_da): the HLS C++ a Vivado user would
    synthesise has da4ml adder trees in place of multiplications, and stays bit for bit."""
    root, data, runs = gate
    target = resolve_target("gt_run3_da")
    result = run_csim(runs[model], target, data_dir=data, hls_projects=root / "hls", n_events=10_000)
    require_bit_exact(result)
    assert result.n_events >= 10_000 and result.n_mismatch == 0
    top = (root / "hls" / f"{model}-gt_run3_da" / "firmware" / "myproject.cpp").read_text()
    assert "dense_da" in top and "dense_latency" not in top  # the strategy really applied


def test_wide_model_passes_on_the_exact_reference_and_says_float32_differs(gate):
    """16-bit weights on 16-bit inputs: the layer sums need more than float32's 24 bits, so QKeras
    (float32) rounds them. The firmware is compared with the exact fixed-point reference and is
    bit-exact; QKeras's own disagreement is reported, with the layer where it starts."""
    root, data, _ = gate
    cfg = parse_config(
        TrainConfig,
        {
            "model": "ae",
            "epochs": 1,
            "batch_size": 256,
            "max_train_events": 3000,
            "architecture": {"encoder": [16], "latent_dim": 4},
            "quant": {"weight": {"bits": 16, "integer": 0}, "bias": {"bits": 16, "integer": 3}},
        },
    )
    run_dir = train(cfg, data_dir=data, runs_dir=root / "runs", name="wide", progress=False).run_dir
    target = resolve_target("gt_run3")
    result = run_csim(run_dir, target, data_dir=data, hls_projects=root / "hls", n_events=10_000)
    require_bit_exact(result)
    assert result.n_mismatch == 0 and "exact fixed-point" in result.reference
    assert not result.qkeras_float32_exact
    assert result.qkeras_first_inexact_layer is not None
    note = result.qkeras_float32
    assert "NOT exact" in note and f"layer '{result.qkeras_first_inexact_layer}'" in note
    saved = json.loads((root / "hls" / "wide-gt_run3" / "csim.json").read_text())
    assert saved["bit_exact"] is True and saved["qkeras_float32_exact"] is False
    assert "QKeras float32    NOT exact:" in (root / "hls" / "wide-gt_run3" / "csim.md").read_text()
    # evaluation scores what the firmware computes (the exact reference), so its thresholds are the firmware's
    run = load_run(run_dir)
    particles, _, _ = collect_events(data, 2000)
    exact = exact_reference(run.deploy_model, run.features(particles), compare_qkeras=False).outputs[:, 0]
    np.testing.assert_array_equal(run.anomaly_score(particles), exact)

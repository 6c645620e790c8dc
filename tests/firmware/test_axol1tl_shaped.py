"""A network built the AXOL1TL way goes through convert, C-sim, RTL and the CMSSW export as it is.

The fixture follows AXOL1TL v6's published architecture with weights of its own: a 57 → 29 → ReLU →
10 → ReLU feature extractor, a 10 → 9 → 6 → 4 → 6 → 9 → 10 autoencoder head, the score Σ(dec − h)²
in ``ap_ufixed<18,14>``, 5-bit weights in multiples of 1/8 with ~30 % zeros, ReLUs in
``ap_ufixed<10,6,AP_RND_CONV,AP_SAT>``, and AXOL1TL v6's own input scaling (``scales.h``: offsets and
shifts, one of them −1, a left shift) on the raw hardware integers.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import write_toy_data_dir
from wnae.data.hardware_inputs import L1HardwareNormaliser
from wnae.firmware.cmssw import check_plugin, export_cmssw
from wnae.firmware.config import resolve_target
from wnae.firmware.csim import require_bit_exact, run_csim
from wnae.models.serialization import load_run, save_qkeras_model

pytestmark = [pytest.mark.csim, pytest.mark.slow]

#: AXOL1TL v6's input scaling (cms-hls4ml/AXOL1TL, AXOL1TL_v6/scales.h): public numbers, used as given.
V6_SHIFT = [
    3,
    0,
    6,
    2,
    5,
    6,
    0,
    5,
    6,
    0,
    5,
    6,
    -1,
    5,
    6,
    1,
    7,
    8,
    0,
    7,
    8,
    0,
    7,
    8,
    0,
    7,
    8,
    3,
    6,
    6,
    3,
    6,
    6,
    3,
    6,
    6,
    2,
    6,
    6,
    3,
    6,
    6,
    3,
    6,
    6,
    3,
    6,
    6,
    3,
    6,
    6,
    3,
    6,
    6,
    3,
    6,
    6,
]
V6_OFFSET = [
    14,
    0,
    72,
    7,
    0,
    71,
    4,
    2,
    71,
    4,
    2,
    71,
    3,
    0,
    72,
    5,
    -2,
    286,
    3,
    0,
    284,
    3,
    0,
    286,
    3,
    -2,
    285,
    31,
    0,
    71,
    24,
    0,
    71,
    21,
    0,
    71,
    18,
    -2,
    72,
    16,
    0,
    72,
    12,
    -2,
    72,
    11,
    0,
    72,
    10,
    0,
    71,
    10,
    -2,
    72,
    10,
    0,
    71,
]


def axol1tl_shaped_model(seed: int = 0):
    """AXOL1TL v6's layer shapes and types, weights drawn on the 1/8 grid with 30 % zeros."""
    from qkeras import QActivation, QDense
    from tensorflow import keras

    weight, bias = "quantized_bits(5,1,alpha=1)", "quantized_bits(5,1,alpha=1)"
    relu = "quantized_relu(10,6)"
    linear = "quantized_bits(16,8,alpha=1)"
    x_in = keras.Input((57,), name="inputs")
    x = QActivation("quantized_bits(14,5,alpha=1)", name="input_quant")(x_in)  # ap_fixed<14,6>
    for i, units in enumerate((29, 10)):
        x = QDense(units, kernel_quantizer=weight, bias_quantizer=bias, name=f"extractor_dense{i}")(x)
        x = QActivation(relu, name=f"extractor_relu{i}")(x)
    h = x
    for i, units in enumerate((9, 6, 4, 6, 9, 10)):
        act = linear if units in (4, 10) and i in (2, 5) else None
        x = QDense(units, kernel_quantizer=weight, bias_quantizer=bias, activation=act, name=f"head_dense{i}")(x)
        if act is None:
            x = QActivation(relu, name=f"head_relu{i}")(x)
    delta = keras.layers.Subtract(name="score_delta")([h, x])
    d = QActivation("quantized_bits(18,10,alpha=1)", name="score_diff_q")(delta)  # ap_fixed<18,11>
    sq = keras.layers.Multiply(name="score_square")([d, d])
    sq = QActivation("quantized_bits(24,14,keep_negative=False,alpha=1)", name="score_square_q")(sq)
    total = keras.layers.Dense(1, use_bias=False, trainable=False, kernel_initializer="ones", name="score_sum")(sq)
    score = QActivation("quantized_bits(18,14,keep_negative=False,alpha=1)", name="score_out")(total)
    model = keras.Model(x_in, score, name="axol1tl_shaped")
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, QDense):
            w = [
                np.where(rng.random(v.shape) < 0.3, 0.0, rng.integers(-8, 8, v.shape) / 8.0)
                for v in layer.get_weights()
            ]
            layer.set_weights([v.astype(np.float32) for v in w])
    return model


@pytest.fixture(scope="module")
def axol1tl_run(tmp_path_factory):
    """The fixture model as a run directory: deploy.h5, AXOL1TL v6's scales, run.json, config.yml."""
    root = tmp_path_factory.mktemp("axol1tl_shaped")
    data = write_toy_data_dir(root / "data", n_background=4000, n_zero_bias=4000, n_signal=1500)
    run_dir = root / "runs" / "axol1tl_shaped"
    run_dir.mkdir(parents=True)
    model = axol1tl_shaped_model()
    save_qkeras_model(model, run_dir / "deploy.h5")
    L1HardwareNormaliser(np.array(V6_OFFSET), np.array(V6_SHIFT)).save(run_dir / "normalisation.json")
    (run_dir / "config.yml").write_text("model: two_stage\nnormalisation: l1_hardware\n")
    (run_dir / "run.json").write_text(
        json.dumps(
            {
                "model": "two_stage",
                "deployed_output": "score",
                "seed": 0,
                "epochs": 0,
                "input_quantizer": {"bits": 14, "integer": 5, "signed": True},
                "score_quantizer": {"bits": 18, "integer": 14, "signed": False},
            }
        )
    )
    return root, data, run_dir


def test_the_fixture_is_shaped_like_axol1tl(axol1tl_run):
    _, _, run_dir = axol1tl_run
    run = load_run(run_dir)
    kernels = [
        layer.get_weights()[0]
        for layer in run.deploy_model.layers
        if layer.name.startswith(("extractor", "head")) and layer.get_weights()
    ]
    assert [k.shape for k in kernels] == [(57, 29), (29, 10), (10, 9), (9, 6), (6, 4), (4, 6), (6, 9), (9, 10)]
    flat = np.concatenate([k.ravel() for k in kernels])
    assert np.all(flat * 8 == np.round(flat * 8)) and 0.25 < np.mean(flat == 0) < 0.4
    assert (run.normaliser.shift < 0).any()


def test_csim_is_bit_exact(axol1tl_run):
    root, data, run_dir = axol1tl_run
    result = run_csim(run_dir, resolve_target("gt_run3"), data_dir=data, hls_projects=root / "hls", n_events=10_000)
    assert result.n_events >= 10_000
    assert result.events_per_sample["hardware edge cases"] == 84  # raw-input extremes: wrap, saturation, left shift
    require_bit_exact(result)


@pytest.mark.rtl
def test_rtl_is_bit_exact(axol1tl_run):
    pytest.importorskip("da4ml")
    from wnae.errors import ToolNotFoundError
    from wnae.firmware.rtl import require_bit_exact_rtl, run_rtl
    from wnae.firmware.rtl.tools import require_verilator

    try:
        require_verilator()
    except ToolNotFoundError as err:
        pytest.skip(str(err))

    root, data, run_dir = axol1tl_run
    result = run_rtl(
        run_dir, resolve_target("gt_run3"), data_dir=data, hls_projects=root / "hls", n_events=10_000, synthesize=False
    )
    require_bit_exact_rtl(result)


def test_the_cmssw_plugin_is_bit_exact(axol1tl_run):
    root, data, run_dir = axol1tl_run
    run = load_run(run_dir)
    export = export_cmssw(run, resolve_target("gt_run3"), root / "GTADModel_axo", name="GTADModel_axo")
    assert "-1, 5, 6, 1, 7, 8" in (export.directory / "scales.h").read_text()  # v6's shifts, negative included
    check = check_plugin(run, export, data, n_events=10_000)
    assert check.events >= 10_000
    assert check.bit_exact, check.summary()

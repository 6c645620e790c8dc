"""hls4ml conversion rules and the clear errors of convert / csim."""

from __future__ import annotations

import numpy as np
import pytest

from wnae.cli import main
from wnae.config import parse_config
from wnae.errors import FirmwareError
from wnae.firmware.config import LayerPrecision, resolve_target
from wnae.firmware.convert import build_hls_config, convert_model
from wnae.fixed_point.graph import quantizer_format
from wnae.models.config import TrainConfig
from wnae.models.wnae import AutoencoderFamily


@pytest.fixture(scope="module")
def wnae_model():
    cfg = parse_config(TrainConfig, {"architecture": {"encoder": [8], "latent_dim": 2}})
    return AutoencoderFamily(cfg, 0).deploy_model()


def test_quantizer_types_follow_qkeras_conventions():
    from qkeras import quantized_bits, quantized_relu

    assert quantizer_format(quantized_bits(16, 7, alpha=1), "x").hls_type() == "fixed<16,8,RND_CONV,SAT>"
    unsigned = quantizer_format(quantized_bits(18, 14, keep_negative=False, alpha=1), "x")
    assert unsigned.hls_type() == "ufixed<18,14,RND_CONV,SAT>"  # hls4ml alone gives fixed<18,15>
    assert quantizer_format(quantized_relu(10, 4), "x").hls_type() == "ufixed<10,4,RND_CONV,SAT>"
    with pytest.raises(FirmwareError, match="layer 'dense': quantized_bits with alpha='auto'"):
        quantizer_format(quantized_bits(8, 0, alpha="auto"), "layer 'dense'")


def test_folded_quantizers_set_the_preceding_layer(wnae_model):
    cfg = build_hls_config(wnae_model, resolve_target("gt_run3"))
    layers = cfg["LayerName"]
    assert layers["inputs"]["Precision"]["result"] == "fixed<16,8,RND_CONV,SAT>"  # input quantizer
    assert layers["reconstruction"]["Precision"]["result"] == "fixed<12,5,RND_CONV,SAT>"
    assert layers["score_delta"]["Precision"]["result"] == "fixed<12,5,RND_CONV,SAT>"
    assert layers["score_square"]["Precision"]["result"] == "ufixed<16,8,RND_CONV,SAT>"
    assert layers["score_sum"]["Precision"]["result"] == "ufixed<18,14,RND_CONV,SAT>"
    assert layers["score_sum_linear"]["Precision"]["result"] == "ufixed<18,14,RND_CONV,SAT>"


def test_precision_that_cannot_hold_the_weights_names_the_layer(wnae_model, tmp_path):
    target = resolve_target("gt_run3")
    bad = target.model_copy(
        update={
            "precision": target.precision.model_copy(
                update={"layers": {"enc_dense0": LayerPrecision(weight="ap_fixed<4,1>")}}
            )
        }
    )
    w = wnae_model.get_layer("enc_dense0").get_weights()
    w[0][0, 0] = 1.5  # needs more than ap_fixed<4,1> (range [-1, 0.875])
    wnae_model.get_layer("enc_dense0").set_weights(w)
    with pytest.raises(FirmwareError, match="layer 'enc_dense0': weight precision ap_fixed<4,1> cannot hold"):
        convert_model(wnae_model, bad, tmp_path / "p", compile=False)
    unknown = target.model_copy(
        update={
            "precision": target.precision.model_copy(
                update={"layers": {"no_such_layer": LayerPrecision(result="ap_fixed<8,4>")}}
            )
        }
    )
    with pytest.raises(FirmwareError, match="layer 'no_such_layer', which the model does not have"):
        convert_model(wnae_model, unknown, tmp_path / "q", compile=False)
    assert not (tmp_path / "p").exists()


@pytest.mark.csim
def test_failing_gxx_build_shows_the_compiler_and_keeps_the_project(wnae_model, tmp_path, monkeypatch):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "g++").write_text("#!/bin/sh\necho 'fatal error: simulated compiler failure' >&2\nexit 1\n")
    (fake / "g++").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:/usr/bin:/bin")
    with pytest.raises(FirmwareError, match="g\\+\\+ build of .* failed \\(project kept for inspection\\)") as info:
        convert_model(wnae_model, resolve_target("gt_run3"), tmp_path / "proj", tb_inputs=np.zeros((4, 57)))
    assert (tmp_path / "proj" / "firmware" / "myproject.cpp").is_file()
    assert "simulated compiler failure" in str(info.value)


def test_cli_errors(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["csim", str(tmp_path / "empty"), "--runs-dir", str(tmp_path)]) == 2
    assert "not a finished run" in capsys.readouterr().err
    assert main(["convert", "--runs-dir", str(tmp_path / "none")]) == 2
    assert "no finished run" in capsys.readouterr().err
    assert main(["csim", str(tmp_path / "empty"), "--target", "no_such_target"]) == 2
    assert "no_such_target" in capsys.readouterr().err

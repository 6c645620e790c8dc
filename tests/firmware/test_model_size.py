"""Model size of a tiny QKeras model, checked against counts worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from wnae.errors import ModelError
from wnae.firmware.model_size import MODEL_SIZE_LABEL, load_model_size, model_size

pytestmark = pytest.mark.filterwarnings(
    "ignore:You are saving your model as an HDF5:UserWarning", "ignore:The `keras.constraints.serialize:UserWarning"
)

tf = pytest.importorskip("tensorflow")
qkeras = pytest.importorskip("qkeras")


@pytest.fixture(scope="module")
def tiny_model():
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    inp = tf.keras.Input((4,), name="x")
    h = QDense(
        3, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1), name="d1"
    )(inp)
    h = QActivation(quantized_relu(5, 2), name="a1")(h)
    h = QDense(
        2, kernel_quantizer=quantized_bits(4, 0, alpha=1), bias_quantizer=quantized_bits(4, 0, alpha=1), name="d2"
    )(h)
    out = tf.keras.layers.Dense(1, name="out")(h)
    model = tf.keras.Model(inp, out, name="tiny")
    # d1: 12 weights; 0.0 and 0.01 are zero after quantized_bits(6,0) (step 2**-5 = 0.03125): 10 non-zero
    d1 = np.array([[0.5, 0.0, 0.25], [0.125, 0.01, -0.5], [0.0625, 0.75, -0.25], [0.5, 0.5, 0.5]], np.float32)
    model.get_layer("d1").set_weights([d1, np.zeros(3, np.float32)])
    # d2: 6 weights; 0.05 is zero after quantized_bits(4,0) (step 2**-3 = 0.125): 4 non-zero
    d2 = np.array([[0.5, 0.0], [0.05, 0.25], [-0.5, 0.125]], np.float32)
    model.get_layer("d2").set_weights([d2, np.zeros(2, np.float32)])
    model.get_layer("out").set_weights([np.array([[1.0], [0.0]], np.float32), np.zeros(1, np.float32)])
    return model


def test_counts_by_hand(tiny_model):
    size = model_size(tiny_model)
    assert size.label == MODEL_SIZE_LABEL
    d1, a1, d2, out = size.layers
    assert (d1.n_multiplications, d1.n_weights, d1.n_nonzero_weights, d1.n_biases) == (12, 12, 10, 3)
    assert (d1.weight_bits, d1.bias_bits, d1.activation_bits) == (6, 8, None)
    assert (a1.class_name, a1.n_multiplications, a1.activation_bits) == ("QActivation", 0, 5)
    assert (d2.n_multiplications, d2.n_nonzero_weights, d2.weight_bits, d2.bias_bits) == (6, 4, 4, 4)
    assert (out.n_multiplications, out.n_nonzero_weights, out.weight_bits, out.weight_quantizer) == (
        2,
        1,
        None,
        "float",
    )
    assert (size.n_multiplications, size.n_weights, size.n_nonzero_weights) == (20, 20, 15)
    table = size.to_markdown()
    assert "without synthesis" in table
    assert "| total |" in table


def test_load_from_h5(tiny_model, tmp_path):
    path = tmp_path / "model.h5"
    tiny_model.save(path)
    assert load_model_size(path).n_nonzero_weights == 15


def test_bad_model_files(tmp_path):
    with pytest.raises(ModelError, match="model file not found"):
        load_model_size(tmp_path / "none.h5")
    bad = tmp_path / "bad.h5"
    bad.write_text("not hdf5")
    with pytest.raises(ModelError, match="bad.h5: cannot load"):
        load_model_size(bad)


def test_cli_prints_model_size_without_reports(tiny_model, tmp_path, monkeypatch, capsys):
    from wnae.cli import main

    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    tiny_model.save(run / "model.h5")
    assert main(["synth-report", "r1", "--target", "gt_run3"]) == 3
    out = capsys.readouterr().out
    assert "No synthesis reports" in out
    assert "tiny: model size (counted from the model, without synthesis" in out
    assert "| d1    | QDense" in out


def test_score_head_squares_are_multiplications():
    from wnae.config import parse_config
    from wnae.firmware.model_size import model_size
    from wnae.models.config import TrainConfig
    from wnae.models.wnae import AutoencoderFamily

    cfg = parse_config(TrainConfig, {"architecture": {"encoder": [8], "latent_dim": 2}})
    size = model_size(AutoencoderFamily(cfg, 0).deploy_model())
    by_name = {layer.name: layer for layer in size.layers}
    assert by_name["score_square"].n_multiplications == 57  # one square per input feature
    dense = 57 * 8 + 8 * 2 + 2 * 8 + 8 * 57 + 57  # QDense stack + the unit-weight sum
    assert size.n_multiplications == dense + 57

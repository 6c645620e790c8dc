"""``wnae compare``: aggregation over seeds, the reconstruction EMD, the command end to end and its bad inputs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.conftest import write_toy_data_dir
from wnae.cli import main
from wnae.errors import ConfigError, ModelError
from wnae.evaluate.density_fit import FIT_KEYS, run_density_fit
from wnae.evaluate.seeds import aggregate_label, compare_doc, format_compare, paired_difference, summarise

# --- aggregation on hand-made evaluations


def _evaluation(run: str, auc: float, auc_zb: float, eff_a: float, eff_b: float, tpr: float | None = None) -> dict:
    """A ``metrics.json`` document with the keys the aggregation reads."""
    return {
        "run": run,
        "working_points": [{"name": "A", "target_rate_khz": 100.0}, {"name": "B", "target_rate_khz": 1.0}],
        "signals": {
            "sig": {
                "auc": auc,
                "auc_zero_bias": auc_zb,
                "tpr_at_fpr": {"tpr": None},
                "tpr_at_zero_bias_fpr": {"tpr": tpr},
                "efficiency": {
                    "A": {"value": eff_a, "low": 0.0, "high": 1.0},
                    "B": {"value": eff_b, "low": 0.0, "high": 1.0},
                },
            }
        },
    }


def test_summarise_mean_and_sample_std():
    s = summarise([0.1, 0.2, 0.6])
    assert s["mean"] == pytest.approx(0.3)
    assert s["std"] == pytest.approx(math.sqrt(((0.2) ** 2 + 0.1**2 + 0.3**2) / 2))  # ddof = 1
    assert s["n"] == 3
    assert summarise([0.4]) == {"mean": 0.4, "std": None, "n": 1, "per_seed": [0.4]}
    assert summarise([None, None])["mean"] is None
    assert summarise([1.0, None, 3.0])["n"] == 2


def test_aggregate_and_ratio_on_hand_made_evaluations():
    wnae = aggregate_label(
        "wnae",
        [_evaluation("w0", 0.90, 0.92, 0.20, 0.010, 0.05), _evaluation("w1", 0.94, 0.96, 0.30, 0.030, None)],
        [
            {"space": "embedding", "n_events": 100, "emd": 1.0, "mean_squared_error": 2.0},
            {"space": "embedding", "n_events": 100, "emd": 3.0, "mean_squared_error": 4.0},
        ],
    )
    vae = aggregate_label(
        "vae",
        [
            _evaluation("v0", 0.80, 0.85, 0.10, 0.010),
            _evaluation("v1", 0.80, 0.85, 0.10, 0.010),
            _evaluation("v2", 0.80, 0.85, 0.10, 0.010),
        ],
        [None, None, None],
    )
    sig = wnae["signals"]["sig"]
    assert wnae["n_seeds"] == 2
    assert wnae["runs"] == ["w0", "w1"]
    assert sig["auc"]["mean"] == pytest.approx(0.92)
    assert sig["auc"]["std"] == pytest.approx(math.sqrt(2) * 0.02)  # two values ±0.02 around the mean
    assert sig["auc_zero_bias"]["mean"] == pytest.approx(0.94)
    assert sig["efficiency"]["A"]["mean"] == pytest.approx(0.25)
    assert sig["efficiency"]["A"]["std"] == pytest.approx(math.sqrt(2) * 0.05)
    assert sig["efficiency"]["B"]["per_seed"] == [0.010, 0.030]
    assert sig["tpr_at_zero_bias_fpr"]["n"] == 1  # the unreachable seed is left out
    assert sig["tpr_at_fpr"]["mean"] is None
    assert wnae["reconstruction"]["emd"]["mean"] == pytest.approx(2.0)
    assert wnae["reconstruction"]["emd"]["std"] == pytest.approx(math.sqrt(2))
    assert vae["reconstruction"] is None  # no seed could be reconstructed
    assert vae["signals"]["sig"]["efficiency"]["A"]["std"] == pytest.approx(0.0, abs=1e-12)
    doc = compare_doc([wnae, vae], meta={"name": "hand", "confidence_level": 0.6827, "target_fpr": 1e-5})
    ratio = doc["ratio"]
    assert (ratio["numerator"], ratio["denominator"]) == ("wnae", "vae")
    assert ratio["efficiency"]["sig"]["A"] == pytest.approx(2.5)
    assert ratio["efficiency"]["sig"]["B"] == pytest.approx(2.0)
    assert ratio["auc"]["sig"] == pytest.approx(0.92 / 0.80)
    assert ratio["reconstruction_emd"] is None
    assert compare_doc([wnae])["ratio"] is None  # a ratio only between exactly two labels
    md = format_compare(json.loads(json.dumps(doc, sort_keys=True)))  # as read back from compare.json
    assert md.index("| sig | wnae (2) |") < md.index("| sig | vae (3) |")  # the entries' order, not the keys'
    assert "| sig | wnae (2) | 0.920 ± 0.028 | 0.940 ± 0.028 | 5 | 25 ± 7.07 | 2 ± 1.41 |" in md
    assert "| wnae | embedding | 100 | 2 | 2 ± 1.414 | 3 ± 1.414 |" in md
    assert "| vae | – | – | 0 | no reconstruction | – |" in md
    assert "| sig | 1.15 | 1.11 | 2.5 | 2 |" in md


def test_the_working_points_as_realised_are_summarised_and_shown():
    docs = [_evaluation(f"w{i}", 0.9, 0.9, 0.2, 0.01) for i in range(3)]
    for doc, rate, n_eff, resolved in zip(docs, (1.0, 1.7, 0.9), (20.0, 5.0, 8.0), (True, False, True), strict=True):
        doc["working_points"][1].update({"rate_khz": rate, "n_zb_effective_above": n_eff, "resolved": resolved})
    lab = aggregate_label("w", docs)
    tight = lab["realised"]["B"]
    assert tight["rate_khz"]["mean"] == pytest.approx(1.2)
    assert tight["n_zb_effective"]["per_seed"] == [20.0, 5.0, 8.0]
    assert tight["unresolved"] == 1
    assert lab["realised"]["A"]["rate_khz"]["mean"] is None  # not recorded: nothing made up
    md = format_compare(compare_doc([lab]))
    assert "## Working points as realised" in md
    assert "| w | – / – / 0 | 1.2 ± 0.436 / 11 ± 7.94 / 1 |" in md


def test_paired_difference_matches_seeds_not_positions():
    # b lists its seeds in another order and lacks seed 2; a's seed 3 has no value
    d = paired_difference([0.30, 0.10, 0.50, None], [0, 1, 2, 3], [0.20, 0.25, 0.40], [1, 0, 3])
    assert d["n"] == 2  # seeds 0 and 1
    assert d["mean"] == pytest.approx(((0.30 - 0.25) + (0.10 - 0.20)) / 2)
    assert d["std_error"] == pytest.approx(abs(0.05 - (-0.10)) / math.sqrt(2) / math.sqrt(2))
    assert (d["ahead"], d["behind"]) == (1, 1)
    assert paired_difference([1.0], [0], [0.5], [1]) == {
        "n": 0,
        "mean": None,
        "std_error": None,
        "ahead": 0,
        "behind": 0,
    }


def test_compare_pairs_every_label_with_the_reference_by_seed():
    a = aggregate_label("a", [_evaluation(f"a{s}", 0.9, 0.9, 0.2 + 0.1 * s, 0.01 * s) for s in range(3)])
    b = aggregate_label("b", [_evaluation(f"b{s}", 0.9, 0.8, 0.1 + 0.1 * s, 0.02) for s in range(3)])
    a["seeds"], b["seeds"] = [0, 1, 2], [0, 1, 2]
    doc = compare_doc([a, b])  # the reference is the last label
    (paired,) = doc["paired"]
    assert (paired["minuend"], paired["subtrahend"]) == ("a", "b")
    assert paired["efficiency"]["sig"]["A"]["mean"] == pytest.approx(0.1)  # ahead by 0.1 at every seed
    assert paired["efficiency"]["sig"]["A"]["std_error"] == pytest.approx(0.0, abs=1e-12)
    assert paired["efficiency"]["sig"]["B"]["ahead"] == 0 and paired["efficiency"]["sig"]["B"]["behind"] == 2
    assert paired["auc_zero_bias"]["sig"]["mean"] == pytest.approx(0.1)
    md = format_compare(json.loads(json.dumps(doc)))
    assert "## Paired by seed: a − b" in md
    assert "| sig | +0.100 ± 0.000 (3/3) | +10.00 ± 0.00 (3/3) | -1.00 ± 0.58 (0/3) |" in md
    c = aggregate_label("c", [_evaluation(f"c{s}", 0.9, 0.9, 0.3, 0.02) for s in range(2)])
    c["seeds"] = [2, 0]
    doc = compare_doc([a, b, c], reference="b")
    assert [(p["minuend"], p["subtrahend"]) for p in doc["paired"]] == [("a", "b"), ("c", "b")]
    assert doc["paired"][1]["efficiency"]["sig"]["A"]["mean"] == pytest.approx(((0.3 - 0.3) + (0.3 - 0.1)) / 2)
    assert doc["ratio"] is None  # a ratio only between exactly two labels
    del a["seeds"]
    assert compare_doc([a, b])["paired"] == []  # no seeds, no pairing


def test_aggregate_reads_real_evaluations():
    from tests.evaluate.test_evaluation import config, hand_built
    from wnae.evaluate.evaluation import evaluate_scores

    docs = []
    for scale in (1.0, 0.5):
        scores = hand_built()
        scores.samples["sig"].scores = scores.samples["sig"].scores * scale
        docs.append(evaluate_scores(scores, config()).to_dict())
    lab = aggregate_label("hand", docs)
    eff = lab["signals"]["sig"]["efficiency"]["A"]
    assert eff["per_seed"] == pytest.approx([3 / 12, 1 / 12])  # ×0.5 keeps only 2000 → 1000 above 989.5
    assert lab["working_points_khz"] == {"A": 400.0, "B": 40.0}
    assert lab["signals"]["sig"]["auc_zero_bias"]["n"] == 2


# --- reconstruction EMD on tiny models


def _identity_model(dim: int, shift: np.ndarray, reference: str = "input_quant"):
    """inputs → ``reference`` (linear) → ``reconstruction`` = x + shift: a Keras model named like a deployed one."""
    from tensorflow import keras

    inputs = keras.Input(shape=(dim,), name="inputs")
    x = keras.layers.Activation("linear", name=reference)(inputs)
    recon = keras.layers.Dense(
        dim, kernel_initializer="identity", bias_initializer=keras.initializers.Constant(shift), name="reconstruction"
    )(x)
    delta = keras.layers.Subtract(name="score_delta")([x, recon])
    return keras.Model(inputs, delta, name="toy_deploy")


class _Run:
    def __init__(self, deploy_model, name: str = "toy") -> None:
        self.deploy_model, self.name = deploy_model, name

    def features(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, np.float32).reshape(len(x), -1)


def test_reconstruction_emd_known_answers():
    import ot

    from wnae.evaluate.reconstruction import reconstruction_quality

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3)).astype(np.float32)
    shift = np.array([0.5, -1.0, 2.0], np.float32)
    # a translation moves every point by the same vector: W₂² = |shift|² exactly, as is the paired cost
    q = reconstruction_quality(_Run(_identity_model(3, shift)), x)
    assert q.space == "inputs"
    assert (q.dim, q.n_events) == (3, 60)
    assert q.emd == pytest.approx(float(shift @ shift), rel=1e-5)
    assert q.mean_squared_error == pytest.approx(float(shift @ shift), rel=1e-5)
    # a symmetric cloud reconstructed as its mirror image: the same distribution (W = 0), every event far off
    sym = np.concatenate([x, -x])
    mirror = _identity_model(3, np.zeros(3, np.float32), reference="embedding_quant")
    mirror.get_layer("reconstruction").set_weights([-np.eye(3, dtype=np.float32), np.zeros(3, np.float32)])
    q = reconstruction_quality(_Run(mirror), sym)
    assert q.space == "embedding"
    assert q.emd == pytest.approx(0.0, abs=1e-9)
    assert q.mean_squared_error == pytest.approx(float(np.mean(np.sum((2 * sym) ** 2, axis=1))), rel=1e-5)
    # against POT directly on a generic case
    rot = _identity_model(3, np.zeros(3, np.float32))
    kernel = np.array([[0.0, 1.1, 0.0], [-0.9, 0.0, 0.0], [0.0, 0.2, 1.0]], np.float32)  # ≈ a quarter turn
    rot.get_layer("reconstruction").set_weights([kernel, 0.1 * shift])
    q = reconstruction_quality(_Run(rot), x)
    x_hat = x @ kernel + 0.1 * shift
    expected = ot.emd2(np.full(60, 1 / 60), np.full(60, 1 / 60), ot.dist(x.astype(float), x_hat.astype(float)))
    assert q.emd == pytest.approx(expected, rel=1e-5)
    assert q.emd < 0.5 * q.mean_squared_error  # a turned Gaussian cloud is nearly the same distribution


def test_reconstruction_layers_of_saved_deployed_models(tmp_path):
    import tensorflow as tf

    from wnae.config import parse_config
    from wnae.evaluate.reconstruction import reconstruction_model
    from wnae.models.config import TrainConfig
    from wnae.models.registry import build_model
    from wnae.models.serialization import load_qkeras_model, save_qkeras_model

    tf.keras.utils.set_random_seed(0)
    cases = {
        "two_stage": (
            {
                "model": "two_stage",
                "epochs": 2,
                "extractor": {"method": "vicreg", "widths": [6], "embedding_dim": 4, "epochs": 1},
                "head": {"model": "vae", "encoder": [], "latent_dim": 2},
            },
            "embedding",
            4,
        ),
        "ae": ({"model": "ae", "architecture": {"encoder": [6], "latent_dim": 2}}, "inputs", 57),
        "vae": ({"model": "vae", "architecture": {"encoder": [6], "latent_dim": 2}}, None, 0),  # scored by Σμ²
    }
    features = np.random.default_rng(1).normal(scale=0.5, size=(16, 57)).astype(np.float32)
    for name, (raw, space, dim) in cases.items():
        cfg = parse_config(TrainConfig, raw)
        save_qkeras_model(build_model(cfg.model, cfg, 0).deploy_model(), tmp_path / f"{name}.h5")
        deploy = load_qkeras_model(tmp_path / f"{name}.h5")  # as a run directory holds it
        if space is None:
            with pytest.raises(ModelError, match="no 'reconstruction' layer"):
                reconstruction_model(deploy, name)
            continue
        model, got = reconstruction_model(deploy, name)
        assert got == space
        x, x_hat = model.predict(features, verbose=0)
        assert x.shape == x_hat.shape == (16, dim)


def test_sm_test_subset_is_seeded_and_spread(tmp_path):
    from wnae.data.io import read_events
    from wnae.data.samples import SampleRole, load_manifest, split_mask
    from wnae.evaluate.reconstruction import sm_test_subset

    data = write_toy_data_dir(tmp_path / "data", n_background=100, n_zero_bias=10, n_signal=10)
    test = np.concatenate(
        [
            read_events(s.path(data)).particles[split_mask(s.n_events, "test")]
            for s in load_manifest(data)
            if s.role is SampleRole.BACKGROUND
        ]
    )  # 4 × 20 events
    a = sm_test_subset(data, 30, seed=1, chunk_events=7)
    assert a.shape == (30, 19, 4)
    np.testing.assert_array_equal(a, sm_test_subset(data, 30, seed=1))  # same seed, same events (any chunking)
    assert not np.array_equal(a, sm_test_subset(data, 30, seed=2))
    rows = [int(np.flatnonzero((test == event).all(axis=(1, 2)))[0]) for event in a]  # each one is a test event
    assert len(set(rows)) == 30
    assert rows != list(range(30))  # not the first rows
    assert max(rows) >= 60  # the last sample's events are drawn too
    assert len(sm_test_subset(data, 10_000)) == 80  # at most every test event


# --- the command


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """Toy data, two tiny training configs (two-stage WNAE, full-input AE) and a fast evaluation config."""
    root = tmp_path_factory.mktemp("compare")
    write_toy_data_dir(root / "data", n_background=150, n_zero_bias=300, n_signal=60)
    (root / "wnae.yml").write_text(
        "model: two_stage\nepochs: 2\nbatch_size: 128\n"
        "extractor: {method: vicreg, widths: [8], embedding_dim: 4, epochs: 1}\n"
        "head: {model: wnae, encoder: [], latent_dim: 2}\n"
        "mcmc: {steps: 2, buffer_size: 256, pretrain_epochs: 0, distance: emd, diagnostics: {equilibrium_steps: 20}}\n"
    )
    (root / "ae.yml").write_text("model: ae\nepochs: 1\nbatch_size: 128\narchitecture: {encoder: [8], latent_dim: 2}\n")
    (root / "eval.yml").write_text(
        "input_rate_khz: 40000.0\nworking_points: {Loose: 4000.0, Tight: 400.0}\n"
        "plots: false\nlatent_events: 0\ntail_fit_events: 20\n"
    )
    (root / "cmp.yml").write_text(
        "name: toy\nentries:\n"
        "  - {label: wnae, config: wnae.yml, seeds: [0, 1]}\n"
        "  - {label: ae, config: ae.yml, seeds: [0, 1]}\n"
        "evaluate_config: eval.yml\nreconstruction_events: 100\n"
    )
    return root


def _args(toy, *extra: str) -> list[str]:
    return [
        "compare",
        "--config",
        str(toy / "cmp.yml"),
        "--data-dir",
        str(toy / "data"),
        "--runs-dir",
        str(toy / "runs"),
        "--output-dir",
        str(toy / "out"),
        *extra,
    ]


@pytest.mark.slow
def test_compare_end_to_end(toy, capsys, monkeypatch):
    assert main(_args(toy)) == 0
    out = capsys.readouterr().out
    doc = json.loads((toy / "out" / "compare.json").read_text())
    assert doc["label_order"] == ["wnae", "ae"]
    for label in ("wnae", "ae"):
        lab = doc["labels"][label]
        assert lab["n_seeds"] == 2
        assert lab["seeds"] == [0, 1]
        assert lab["runs"] == [f"compare-{label}-s0", f"compare-{label}-s1"]
        for seed in (0, 1):  # each run trained with its seed and evaluated into the output
            run = toy / "runs" / f"compare-{label}-s{seed}"
            assert json.loads((run / "run.json").read_text())["seed"] == seed
            assert not (run / "working_points.json").exists()  # the run directory is left as trained
        per_seed = [
            json.loads((toy / "out" / "evaluations" / r / "evaluation" / "metrics.json").read_text())
            for r in lab["runs"]
        ]
        for sig in ("sig_a", "sig_b"):
            s = lab["signals"][sig]
            for key in ("auc", "auc_zero_bias"):
                values = [p["signals"][sig][key] for p in per_seed]
                assert s[key]["mean"] == pytest.approx(np.mean(values))
                assert s[key]["std"] == pytest.approx(np.std(values, ddof=1))
            values = [p["signals"][sig]["efficiency"]["Loose"]["value"] for p in per_seed]
            assert s["efficiency"]["Loose"]["per_seed"] == values
        recon = lab["reconstruction"]
        assert recon["n_events"] == 100
        assert recon["emd"]["n"] == 2
        assert 0 < recon["emd"]["mean"] <= recon["mean_squared_error"]["mean"]
    assert doc["labels"]["wnae"]["reconstruction"]["space"] == "embedding"
    assert doc["labels"]["ae"]["reconstruction"]["space"] == "inputs"
    eff = doc["labels"]["wnae"]["signals"]["sig_a"]["efficiency"]["Tight"]["mean"]
    ae_eff = doc["labels"]["ae"]["signals"]["sig_a"]["efficiency"]["Tight"]["mean"]
    assert doc["ratio"]["efficiency"]["sig_a"]["Tight"] == pytest.approx(eff / ae_eff)
    md = (toy / "out" / "compare.md").read_text()
    assert md.startswith("# Multi-seed comparison `toy`")
    assert "| sig_a | wnae (2) |" in md
    assert "## Ratio wnae / ae of the mean" in md
    assert md in out
    # the density fit, as each run measured it at its kept epoch (the AE's energy too, without the long run)
    for label in ("wnae", "ae"):
        fit = doc["labels"][label]["density_fit"]
        for seed in (0, 1):
            metrics = json.loads((toy / "runs" / f"compare-{label}-s{seed}" / "metrics.json").read_text())
            kept = metrics["kept"]
            assert fit["w_over_floor"]["per_seed"][seed] == max(kept["w_ratio"], kept["w_long_ratio"])
            if label == "wnae":
                eq = metrics["equilibrium"]
                assert fit["w_over_floor_equilibrium"]["per_seed"][seed] == eq["w_equilibrium_ratio"]
                assert fit["neg_std_ratio_equilibrium"]["per_seed"][seed] == eq["diag_neg_std_ratio_equilibrium"]
    assert doc["labels"]["wnae"]["density_fit"]["equilibrium_steps"] == 20
    assert doc["labels"]["ae"]["density_fit"]["w_over_floor_equilibrium"]["n"] == 0
    section = md.split("## How well each model's density fits the data")[1].split("\n## ")[0]
    assert "after 20 further steps" in section
    assert f"| wnae | 2 | {doc['labels']['wnae']['density_fit']['w_over_floor']['mean']:.2f} ± " in section
    assert "| ae | 2 |" in section
    # a finished comparison is not replaced unless asked
    assert main(_args(toy)) == 2
    assert "compare.json exists" in capsys.readouterr().err
    # asked: the finished runs are reused, never retrained

    def no_training(*args, **kwargs):
        msg = "a finished run was retrained"
        raise AssertionError(msg)

    monkeypatch.setattr("wnae.train.loop.train", no_training)
    before = (toy / "runs" / "compare-ae-s0" / "deploy.h5").stat().st_mtime_ns
    assert main(_args(toy, "--overwrite", "--labels", "ae", "--seeds", "0")) == 0
    assert "0 to train, 0 to resume, 1 reused" in capsys.readouterr().err
    assert (toy / "runs" / "compare-ae-s0" / "deploy.h5").stat().st_mtime_ns == before
    assert json.loads((toy / "out" / "compare.json").read_text())["label_order"] == ["ae"]
    # a run of that name with another config is refused before anything is trained
    (toy / "ae2.yml").write_text((toy / "ae.yml").read_text().replace("latent_dim: 2", "latent_dim: 3"))
    (toy / "cmp2.yml").write_text((toy / "cmp.yml").read_text().replace("config: ae.yml", "config: ae2.yml"))
    args = _args(toy, "--overwrite")
    args[2] = str(toy / "cmp2.yml")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "compare-ae-s0 is a finished run with another config than entry 'ae'" in err
    assert "never overwritten" in err


@pytest.mark.slow
def test_an_entry_trains_on_its_own_data_and_is_evaluated_on_the_common_one(toy, capsys):
    """A training-sample study: the runs of one entry train on another directory (here a larger toy)."""
    write_toy_data_dir(toy / "bigger", n_background=300, n_zero_bias=100, n_signal=20)
    (toy / "cmp_sizes.yml").write_text(
        "name: sizes\nentries:\n  - {label: ae_bigger, config: ae.yml, seeds: [0], train_data_dir: bigger}\n"
        "evaluate_config: eval.yml\nreconstruction_events: 0\n"
    )
    args = _args(toy, "--output-dir", str(toy / "out_sizes"))
    args[2] = str(toy / "cmp_sizes.yml")
    assert main(args) == 0, capsys.readouterr()
    run = json.loads((toy / "runs" / "compare-ae_bigger-s0" / "run.json").read_text())
    assert run["data_dir"] == str(toy / "bigger")
    metrics = json.loads((toy / "runs" / "compare-ae_bigger-s0" / "metrics.json").read_text())
    assert metrics["train_events"] == 4 * 180  # 60 % of each of the bigger directory's 4 x 300 SM events
    doc = json.loads((toy / "out_sizes" / "compare.json").read_text())
    assert doc["labels"]["ae_bigger"]["train_data_dir"] == str(toy / "bigger")
    assert doc["data_dir"] == str(toy / "data")  # evaluated on the common data


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        (None, "config file not found"),
        ("entries:\n  - {label: a, config: ae.yml, seeds: [0], sedes: [1]}\n", "unknown key 'entries.0.sedes'"),
        (
            "entries:\n  - {label: a, config: missing.yml, seeds: [0]}\n",
            "'entries.0.config': file missing.yml not found",
        ),
        (
            "entries:\n  - {label: a, config: ae.yml, seeds: []}\n",
            "'entries.0.seeds': List should have at least 1 item",
        ),
        ("entries:\n  - {label: a, config: ae.yml, seeds: [1, 1]}\n", "repeat a seed"),
        (
            "entries:\n  - {label: a, config: ae.yml, seeds: [0]}\n  - {label: a, config: ae.yml, seeds: [0]}\n",
            "labels must be unique",
        ),
        ("entries:\n  - {label: a, config: bad.yml, seeds: [0]}\n", "unknown key 'epoch'"),
        ("entries: []\n", "'entries': List should have at least 1 item"),
        (
            "entries:\n  - {label: a, config: ae.yml, seeds: [0], train_data_dir: nodata}\n",
            "'entries.0.train_data_dir': no data directory nodata with a manifest.json",
        ),
        ("reference: b\nentries:\n  - {label: a, config: ae.yml, seeds: [0]}\n", "reference 'b' is not a label (a)"),
    ],
    ids=[
        "missing-file",
        "unknown-key",
        "missing-train-config",
        "empty-seeds",
        "repeated-seed",
        "repeated-label",
        "bad-train-config",
        "no-entries",
        "missing-train-data",
        "unknown-reference",
    ],
)
def test_bad_input_is_one_line_before_any_training(tmp_path, capsys, yaml, message):
    (tmp_path / "ae.yml").write_text("model: ae\nepochs: 1\n")
    (tmp_path / "bad.yml").write_text("model: ae\nepoch: 1\n")
    path = tmp_path / "cmp.yml"
    if yaml is not None:
        path.write_text(yaml)
    rc = main(
        [
            "compare",
            "--config",
            str(path),
            "--runs-dir",
            str(tmp_path / "runs"),
            "--data-dir",
            str(tmp_path / "data"),
            "--output-dir",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_shipped_config_and_command_options(tmp_path, capsys):
    from wnae.commands.compare import DEFAULT_CONFIG
    from wnae.config import load_config
    from wnae.evaluate.seeds import SeedCompareConfig, plan_compare

    cfg = load_config(DEFAULT_CONFIG, SeedCompareConfig)
    assert [(e.label, e.config, e.seeds) for e in cfg.entries] == [
        ("wnae", "train_two_stage.yml", [0, 1, 2, 3, 4]),
        ("vicreg_vae", "train_vicreg_vae.yml", [0, 1, 2, 3, 4]),
    ]
    data = write_toy_data_dir(tmp_path / "data", n_background=10, n_zero_bias=10, n_signal=5)
    plan = plan_compare(
        cfg,
        config_path=DEFAULT_CONFIG,
        runs_dir=tmp_path / "runs",
        data_dir=data,
        output_dir=tmp_path / "out",
        seeds=[3],
        labels=["vicreg_vae"],
    )
    assert [(r.label, r.seed, r.run_dir.name, r.action, r.config.seed, r.config.head.model) for r in plan.runs] == [
        ("vicreg_vae", 3, "compare-vicreg_vae-s3", "train", 3, "vae")
    ]
    assert plan.evaluate.working_points == {"Loose": 100.0, "Medium": 20.0, "Tight": 1.0, "VTight": 0.1}
    assert plan.output_dir == tmp_path / "out"
    with pytest.raises(ConfigError, match="--labels nope: not in"):
        plan_compare(cfg, config_path=DEFAULT_CONFIG, data_dir=data, labels=["nope"])
    with pytest.raises(ConfigError, match="--seeds 1 1: .*repeat"):
        plan_compare(cfg, config_path=DEFAULT_CONFIG, data_dir=data, seeds=[1, 1])
    with pytest.raises(SystemExit):
        main(["compare", "--seeds", "-1"])
    assert "a seed must be in" in capsys.readouterr().err


def test_density_fit_of_a_run_directory(tmp_path):
    """The kept epoch's fit is read as the run wrote it; a model without one gives None; bad files are named."""
    kept = {"w_ratio": 2.5, "w_long_ratio": 2.75, "diag_energy_ratio": 0.6, "diag_neg_std_ratio": 0.8}
    (tmp_path / "metrics.json").write_text(json.dumps({"kept": kept}))
    fit = run_density_fit(tmp_path)
    assert fit["w_over_floor"] == 2.75  # the larger of the short and the long chains
    assert (fit["energy_ratio"], fit["neg_std_ratio"]) == (0.6, 0.8)
    assert fit["equilibrium_steps"] == 0
    assert fit["w_over_floor_equilibrium"] is None  # not measured: nothing made up
    equilibrium = {"steps": 5000, "w_equilibrium_ratio": 12.9, "diag_energy_ratio_equilibrium": math.nan}
    (tmp_path / "metrics.json").write_text(json.dumps({"kept": kept, "equilibrium": equilibrium}))
    fit = run_density_fit(tmp_path)
    assert (fit["equilibrium_steps"], fit["w_over_floor_equilibrium"]) == (5000, 12.9)
    assert fit["energy_ratio_equilibrium"] is None  # NaN is no value
    (tmp_path / "metrics.json").write_text(json.dumps({"kept": {"loss": 1.0}}))  # an AE or a VAE
    assert run_density_fit(tmp_path) is None
    (tmp_path / "metrics.json").write_text("{not json")
    with pytest.raises(ModelError, match=r"metrics\.json: not valid JSON"):
        run_density_fit(tmp_path)
    with pytest.raises(ModelError, match=r"metrics\.json: file not found"):
        run_density_fit(tmp_path / "nowhere")


def test_the_density_fit_is_summarised_and_shown_for_the_labels_that_measured_it():
    docs = [_evaluation(f"w{i}", 0.9, 0.9, 0.2, 0.01) for i in range(3)]
    fits = [
        {key: 2.0 + i for key in FIT_KEYS} | {"equilibrium_steps": 5000, "w_over_floor_equilibrium": 10.0 + i}
        for i in range(3)
    ]
    wnae = aggregate_label("w", docs, fits=fits)
    vae = aggregate_label("v", docs, fits=[None, None, None])
    assert vae["density_fit"] is None
    fit = wnae["density_fit"]
    assert fit["w_over_floor"]["mean"] == pytest.approx(3.0)
    assert fit["w_over_floor_equilibrium"]["per_seed"] == [10.0, 11.0, 12.0]
    md = format_compare(compare_doc([wnae, vae]))
    section = md.split("## How well each model's density fits the data")[1].split("\n## ")[0]
    assert "after 5000 further steps" in section
    assert "| w | 3 | 3.00 ± 1.00 [2.00–4.00] |" in section
    assert "11.00 ± 1.00 [10.00–12.00]" in section
    assert "| v |" not in section
    assert "## How well" not in format_compare(compare_doc([vae]))  # nothing measured, no section

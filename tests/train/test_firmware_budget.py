"""``firmware_budget``: the run keeps the best-ranked epoch whose deployed model fits the target's budget."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import yaml

from tests.conftest import write_toy_data_dir
from wnae.cli import main
from wnae.config import parse_config
from wnae.errors import ConfigError, ModelError
from wnae.firmware.config import find_target
from wnae.firmware.rtl import budget_gate
from wnae.models.config import TrainConfig
from wnae.models.serialization import load_run
from wnae.train.loop import ranked_epochs, train


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_toy_data_dir(tmp_path_factory.mktemp("toy") / "data", n_background=500)


def _cfg(**extra) -> TrainConfig:
    """A small WNAE whose fit is measured at every epoch: four epochs the selection can rank."""
    base = {
        "model": "wnae",
        "epochs": 4,
        "batch_size": 128,
        "architecture": {"encoder": [8], "latent_dim": 2},
        "mcmc": {"steps": 2, "buffer_size": 512, "pretrain_epochs": 0, "diagnostics": {"events": 100, "every": 1}},
        "firmware_budget": "gt_run3",
    }
    return parse_config(TrainConfig, {**base, **extra})


def _weights(model) -> list[np.ndarray]:
    return [w.copy() for w in model.get_weights()]


def test_the_best_ranked_epoch_over_budget_gives_way_to_the_next(data_dir, tmp_path):
    seen: list[list[np.ndarray]] = []

    def gate_for(target):
        assert target == "gt_run3"

        def gate(model):
            seen.append(_weights(model))
            return "EXCEEDED for target gt_run3: latency 3 cycles" if len(seen) == 1 else None

        return gate

    result = train(_cfg(), data_dir=data_dir, runs_dir=tmp_path, name="r", progress=False, budget_gate_for=gate_for)
    ranked = ranked_epochs(result.history, lambda e: True)
    assert len(ranked) == 4  # every epoch measured, none pruned
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    checked = metrics["firmware_budget"]["checked"]
    assert [c["epoch"] for c in checked] == ranked[:2]
    assert [c["within"] for c in checked] == [False, True]
    assert "latency 3 cycles" in checked[0]["reason"]
    assert metrics["kept_epoch"] == ranked[1]
    # the two candidates are different weights, and the saved firmware model is the second one
    assert any(not np.array_equal(a, b) for a, b in zip(seen[0], seen[1], strict=True))
    deployed = _weights(load_run(result.run_dir).deploy_model)
    assert all(np.array_equal(a, b) for a, b in zip(deployed, seen[1], strict=True))


def test_no_epoch_within_budget_is_an_error_that_names_the_target(data_dir, tmp_path, monkeypatch):
    import wnae.train.loop as loop

    monkeypatch.setattr(loop, "CANDIDATES_TRIED", 3)  # of the 4 ranked epochs, the best 3 are tried
    tried: list[int] = []

    def gate_for(target):
        return lambda model: tried.append(1) or f"EXCEEDED for target {target}: LUT 9 %"

    with pytest.raises(ModelError, match=r"firmware_budget gt_run3: none of the 3 best-ranked epochs .* LUT 9 %"):
        train(_cfg(), data_dir=data_dir, runs_dir=tmp_path, name="r", progress=False, budget_gate_for=gate_for)
    assert len(tried) == 3
    assert not (tmp_path / "r" / "run.json").exists()  # not marked finished
    # an epoch outside the best 3 when it was measured is never saved as a candidate
    assert len(list((tmp_path / "r" / "checkpoints" / "candidates").iterdir())) in (3, 4)


def test_only_the_best_ranked_candidates_stay_on_disk(data_dir, tmp_path, monkeypatch):
    import wnae.train.loop as loop

    monkeypatch.setattr(loop, "CANDIDATES_TRIED", 2)
    result = train(
        _cfg(), data_dir=data_dir, runs_dir=tmp_path, name="r", progress=False, budget_gate_for=lambda t: lambda m: None
    )
    kept = sorted(int(p.name) for p in (result.run_dir / "checkpoints" / "candidates").iterdir())
    assert kept == sorted(ranked_epochs(result.history, lambda e: True)[:2])


def test_without_a_gate_the_budget_is_not_checked_and_a_warning_says_so(data_dir, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="wnae.train.loop"):
        result = train(_cfg(epochs=2), data_dir=data_dir, runs_dir=tmp_path, name="r", progress=False)
    assert "firmware_budget gt_run3 is not checked" in caplog.text
    assert "firmware_budget" not in json.loads((result.run_dir / "metrics.json").read_text())


def test_a_latent_model_cannot_be_gated_before_its_score_exists(data_dir, tmp_path):
    cfg = _cfg(model="mlp_encoder", gmm={"max_components": 2})
    with pytest.raises(ConfigError, match="firmware_budget gt_run3: model mlp_encoder deploys a latent"):
        train(cfg, data_dir=data_dir, runs_dir=tmp_path, name="r", progress=False, budget_gate_for=budget_gate)
    assert not (tmp_path / "r").exists()


def test_the_real_gate_fails_a_full_input_model_on_gt_run3_and_passes_it_on_a_roomier_target(data_dir, tmp_path):
    result = train(_cfg(epochs=1), data_dir=data_dir, runs_dir=tmp_path, name="r", progress=False)
    model = load_run(result.run_dir).deploy_model  # 57 -> 8 -> 2 -> 8 -> 57 at 16-bit weights: too deep, too large
    reason = budget_gate("gt_run3")(model)
    assert reason is not None and reason.startswith("EXCEEDED for target gt_run3")
    assert "latency (worst case)" in reason and "LUT" in reason
    assert budget_gate(str(_roomy_target(tmp_path)))(model) is None


def _roomy_target(tmp_path):
    """gt_run3 with room for the toy's full-input model: 250 ns, half the LUTs."""
    doc = yaml.safe_load(find_target("gt_run3").read_text())
    doc["budget"].update(latency_ns=250.0, lut_fraction=0.5)
    target = tmp_path / "roomy.yml"
    target.write_text(yaml.safe_dump(doc))
    return target


def test_wnae_train_checks_the_budget_and_says_which_epoch_fits(data_dir, tmp_path, capsys):
    cfg = tmp_path / "c.yml"
    cfg.write_text(
        "model: wnae\nepochs: 2\nbatch_size: 128\narchitecture: {encoder: [8], latent_dim: 2}\n"
        "mcmc: {steps: 2, buffer_size: 512, pretrain_epochs: 0, diagnostics: {events: 100, every: 1}}\n"
        f"firmware_budget: {_roomy_target(tmp_path)}\n"
    )
    args = ["train", "--config", str(cfg), "--data-dir", str(data_dir), "--runs-dir", str(tmp_path)]
    assert main([*args, "--name", "cli"]) == 0
    out = capsys.readouterr().out
    assert "roomy.yml (da4ml estimate): epoch" in out
    metrics = json.loads((tmp_path / "cli" / "metrics.json").read_text())
    assert metrics["firmware_budget"]["checked"][-1]["within"] is True
    cfg.write_text(cfg.read_text().replace(str(tmp_path / "roomy.yml"), "no_such_target"))
    assert main([*args, "--name", "bad"]) == 2
    assert "no_such_target" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()

"""Training throughput: total events over total time (not a mean of per-epoch rates), each phase apart."""

from __future__ import annotations

import json
import math

import pytest

from tests.conftest import write_toy_data_dir
from wnae.cli import main
from wnae.train.loop import throughput


def test_rate_is_total_events_over_total_time():
    # 2 AE warm-up epochs of 1000 events in 0.01 s (100k events/s), 2 WNAE epochs of 1000 events in 1 s
    history = {"events_per_second": [1e5, 1e5, 1e3, 1e3], "seconds": [0.01, 0.01, 1.0, 1.0]}
    overall, by_phase = throughput(history, ["ae", "ae", "wnae", "wnae"])
    assert overall == pytest.approx(4000 / 2.02)  # ≈ 1980 events/s; the mean of the rates would say 50 500
    assert by_phase == pytest.approx({"ae": 1e5, "wnae": 1e3})
    assert throughput({}, []) == (None, {})
    nan_epoch = {"events_per_second": [math.nan, 1e3], "seconds": [math.nan, 1.0]}
    assert throughput(nan_epoch, ["vae", "vae"]) == (pytest.approx(1e3), {"vae": pytest.approx(1e3)})


@pytest.mark.slow
def test_cli_summary_reports_overall_and_phase_rates(tmp_path, capsys):
    data_dir = write_toy_data_dir(tmp_path / "data", n_background=200, n_zero_bias=10, n_signal=10)
    cfg = tmp_path / "c.yml"
    cfg.write_text(
        "model: wnae\nepochs: 2\nbatch_size: 64\narchitecture: {encoder: [8], latent_dim: 2}\n"
        "mcmc: {steps: 2, buffer_size: 256, pretrain_epochs: 1}\n"
    )
    assert (
        main(["train", "--config", str(cfg), "--data-dir", str(data_dir), "--runs-dir", str(tmp_path), "--name", "w"])
        == 0
    )
    out = capsys.readouterr().out
    metrics = json.loads((tmp_path / "w" / "metrics.json").read_text())
    history = json.loads((tmp_path / "w" / "history.json").read_text())
    events = metrics["train_events_per_epoch"]
    assert events == (metrics["train_events"] // 64) * 64
    assert metrics["events_per_second"] == pytest.approx(2 * events / sum(history["seconds"]))
    rates = metrics["events_per_second_by_phase"]
    assert list(rates) == ["ae", "wnae"]
    assert rates["ae"] == pytest.approx(events / history["seconds"][0])
    assert rates["wnae"] == pytest.approx(events / history["seconds"][1])
    assert "mean_events_per_second" not in metrics
    assert (
        f"{metrics['events_per_second']:.0f} events/s (ae phase {rates['ae']:.0f}, wnae phase {rates['wnae']:.0f})"
    ) in out


def test_thread_settings_are_kept_once_tensorflow_runs(caplog):
    """TensorFlow fixes its thread pools when it starts: a later, different request is logged, not half-applied."""
    import logging

    import tensorflow as tf

    from wnae.train.loop import configure_threads

    tf.constant(1.0) + 1.0
    threading = tf.config.threading
    before = (threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads())
    configure_threads(*before)  # what it already has: nothing to do, nothing logged
    assert "not applied" not in caplog.text
    with caplog.at_level(logging.INFO, logger="wnae.train.loop"):
        configure_threads(before[0] + 3, before[1] + 3)
    assert f"threads {before[0] + 3}/{before[1] + 3} not applied" in caplog.text
    assert (threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads()) == before

"""``wnae scan`` end to end on tiny data: the table, the front, Yosys on it, resume after a kill, failures, the choice.

Each candidate is a real two-stage WNAE (a few epochs on toy events), evaluated by ``wnae evaluate``'s
code and costed by da4ml; the front's best design goes through ``wnae rtl`` (Verilator + Yosys).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

pytest.importorskip("da4ml")
pytest.importorskip("optuna")

from tests.conftest import write_toy_data_dir
from wnae.cli import main
from wnae.config import load_config
from wnae.errors import ConfigError
from wnae.firmware.budgets import check_budget
from wnae.firmware.compare import deployed_model
from wnae.firmware.config import resolve_target
from wnae.firmware.rtl import estimate_design
from wnae.models.config import TrainConfig
from wnae.models.serialization import load_run
from wnae.scan import run_scan
from wnae.scan.state import ScanError
from wnae.train.loop import train

pytestmark = [pytest.mark.slow]

#: A two-stage WNAE small enough to train in seconds: 57 → 8 → 4, head 4 → 2 → 4.
TINY_BASE = {
    "model": "two_stage",
    "epochs": 3,
    "batch_size": 128,
    "max_train_events": 1200,
    "extractor": {"method": "vicreg", "widths": [8], "embedding_dim": 4, "epochs": 1},
    "head": {"model": "wnae", "encoder": [], "latent_dim": 2},
    "quant": {
        "input": {"bits": 14, "integer": 5},
        "weight": {"bits": 5, "integer": 1},
        "bias": {"bits": 6, "integer": 2},
        "activation": {"bits": 10, "integer": 6, "signed": False},
        "embedding": {"bits": 10, "integer": 4},
        "output": {"bits": 10, "integer": 4},
        "diff": {"bits": 8, "integer": 3},
        "square": {"bits": 16, "integer": 6, "signed": False},
        "score": {"bits": 18, "integer": 14, "signed": False},
    },
    "mcmc": {
        "steps": 2,
        "buffer_size": 256,
        "pretrain_epochs": 1,
        "distance": "neural",
        "critic": {"widths": [16], "steps": 1},
    },
}


def write_scan(root: Path, **scan) -> Path:
    """A scan config (and its base) under ``root``; ``scan`` overrides the two-candidate default."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "base.yml").write_text(yaml.safe_dump(TINY_BASE))
    doc = {
        "base": "base.yml",
        "trials": 2,
        "jobs": 2,
        "startup_trials": 1,
        "synth": {"designs": 0},
        "parameters": {"extractor.widths.0": {"low": 4, "high": 8}, "quant.weight.bits": {"low": 3, "high": 6}},
        **scan,
    }
    path = root / "scan.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_toy_data_dir(
        tmp_path_factory.mktemp("scan") / "data", n_background=1500, n_zero_bias=2000, n_signal=400
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory, data):
    """A two-candidate scan with Yosys on the best front design."""
    root = tmp_path_factory.mktemp("scan_run")
    config = write_scan(root, synth={"designs": 1, "events": 2000})
    seen = []
    result = run_scan(config, name="tiny", scans_dir=root / "scans", data_dir=data, on_finish=seen.append)
    return root, config, result, seen


def test_scan_writes_the_table_plot_and_chosen_config(finished):
    root, _, result, seen = finished
    out = root / "scans" / "tiny"
    assert sorted(c.id for c in seen) == ["c000", "c001"]  # two at a time: either may finish first
    assert result.trained_now == 2
    doc = json.loads((out / "pareto.json").read_text())
    assert set(doc["candidates"]) == {"c000", "c001"}
    base = doc["candidates"]["c000"]
    assert base["baseline"]
    assert base["params"] == {"extractor.widths.0": 8, "quant.weight.bits": 5}
    for rec in doc["candidates"].values():
        assert rec["status"] == "ok"
        assert 0 <= rec["objective"] <= 1
        assert set(rec["efficiency"]) == {"Loose", "Medium", "Tight", "VTight"}  # the evaluate defaults
        assert set(rec["efficiency"]["Tight"]) == {"sig_a", "sig_b"}
        assert rec["latency_cycles"] >= 1
        assert rec["latency_ns"] == 25.0 * rec["latency_cycles"]
        assert rec["lut_estimate"] > 100
        assert "da4ml" in rec["estimate_source"]
    # the front: no design on it is dominated by another candidate
    front = doc["front"]
    assert front
    assert set(front) <= set(doc["candidates"])
    for cid in front:
        a = doc["candidates"][cid]
        dominating = [
            b
            for b in doc["candidates"].values()
            if b["objective"] > a["objective"] and b["lut_estimate"] < a["lut_estimate"]
        ]
        assert not dominating
    text = (out / "pareto.md").read_text()
    assert "## Pareto front" in text
    assert "## Every candidate" in text
    assert "c000 (base)" in text
    assert (out / "pareto.png").stat().st_size > 10_000
    # the chosen design is the base with its parameters, with the base's own schedule
    chosen = doc["candidates"][doc["chosen"]]
    cfg = load_config(out / "chosen.yml", TrainConfig)
    assert cfg.extractor.widths[0] == chosen["params"]["extractor.widths.0"]
    assert cfg.quant.weight.bits == chosen["params"]["quant.weight.bits"]
    assert cfg.epochs == TINY_BASE["epochs"]
    assert cfg.model == "two_stage"


def test_front_design_is_synthesised_and_checked_on_its_yosys_numbers(finished):
    _, _, result, _ = finished
    doc = json.loads((result.root / "pareto.json").read_text())
    synthesised = [r for r in doc["candidates"].values() if r.get("yosys")]
    assert len(synthesised) == 1  # synth.designs: 1 — the most efficient front design within budget
    (rec,) = synthesised
    assert rec["on_front"]
    assert rec["yosys"]["lut"] > 0
    assert "Yosys" in rec["yosys"]["source"]
    assert rec["lut"] == rec["yosys"]["lut"]
    assert rec["budget_numbers"] == "Yosys"
    assert rec["budget_verdict"] == "within budget"
    assert (result.root / "hls_projects" / f"{rec['run']}-gt_run3" / "rtl" / "rtl.json").is_file()


def test_chosen_config_trains_and_passes_the_budget_check(finished, data, tmp_path):
    _, _, result, _ = finished
    cfg = load_config(result.root / "chosen.yml", TrainConfig)
    run_dir = train(cfg, data_dir=data, runs_dir=tmp_path, name="chosen", progress=False).run_dir
    target = resolve_target("gt_run3")
    model, _ = deployed_model(load_run(run_dir), target)
    estimate = estimate_design(model, target)
    check = check_budget(estimate.synth_report(), target)
    assert check.verdict == "within budget", check.to_markdown()
    assert "da4ml" in check.to_markdown()


def test_a_finished_scan_is_not_retrained(finished, data):
    root, config, result, _ = finished
    before = {p.name: p.stat().st_mtime_ns for p in (result.root / "candidates").glob("*.result.json")}
    again = run_scan(config, name="tiny", scans_dir=root / "scans", data_dir=data)
    assert again.trained_now == 0
    assert again.chosen == result.chosen
    after = {p.name: p.stat().st_mtime_ns for p in (result.root / "candidates").glob("*.result.json")}
    assert after == before


def test_scan_resumes_after_a_kill_without_redoing_finished_candidates(tmp_path, data):
    config = write_scan(tmp_path, trials=3, jobs=1)
    scans = tmp_path / "scans"
    cands = scans / "tiny" / "candidates"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wnae",
            "scan",
            str(config),
            "--name",
            "tiny",
            "--scans-dir",
            str(scans),
            "--data-dir",
            str(data),
            "--no-synth",
            "--no-progress",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while not ((cands / "c000.result.json").is_file() and (cands / "c001.json").is_file()):
        assert proc.poll() is None, "the scan ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)  # the scan, mid-candidate; its candidate process follows it
    proc.wait()
    first = (cands / "c000.result.json").stat().st_mtime_ns
    time.sleep(2)  # the orphaned candidate notices its parent is gone within a second
    assert not (cands / "c001.result.json").is_file()

    seen = []
    result = run_scan(config, name="tiny", scans_dir=scans, data_dir=data, synthesize=False, on_finish=seen.append)
    assert [c.id for c in seen] == ["c001", "c002"]  # the interrupted one again (same id), then a new one
    assert (cands / "c000.result.json").stat().st_mtime_ns == first
    params = json.loads((cands / "c001.json").read_text())["params"]
    assert json.loads((cands / "c001.result.json").read_text())["params"] == params
    assert len(result.candidates) == 3
    assert all(c.ok for c in result.candidates)


def test_a_failing_candidate_is_recorded_and_the_scan_goes_on(tmp_path, data):
    # ap_fixed<10,6> has 4 fractional bits: fewer than the fixed-point normalisation's 8, so that candidate
    # cannot train; the base's ap_fixed<14,6> can
    config = write_scan(
        tmp_path, trials=2, jobs=1, parameters={"quant.input": {"choices": ["ap_fixed<14,6>", "ap_fixed<10,6>"]}}
    )
    result = run_scan(config, name="fails", scans_dir=tmp_path / "scans", data_dir=data, synthesize=False)
    by_id = {c.id: c for c in result.candidates}
    assert by_id["c000"].ok
    assert by_id["c000"].params == {"quant.input": "ap_fixed<14,6>"}
    failed = by_id["c001"]
    assert not failed.ok
    assert failed.params == {"quant.input": "ap_fixed<10,6>"}
    assert "fractional bits" in failed.result["error"]
    assert failed.result["error_type"] == "ConfigError"
    doc = json.loads((result.root / "pareto.json").read_text())
    assert doc["candidates"]["c001"]["status"] == "failed"
    assert doc["front"] == ["c000"]
    assert "| c001 | failed: " in (result.root / "pareto.md").read_text()


def test_resume_with_another_search_is_refused(finished, data):
    root, _, _, _ = finished
    other = write_scan(root / "other", parameters={"quant.weight.bits": {"low": 3, "high": 7}})
    with pytest.raises(ScanError, match=r"another setup .*scan"):
        run_scan(other, name="tiny", scans_dir=root / "scans", data_dir=data)


def test_a_scan_directory_in_use_is_refused(tmp_path, data):
    config = write_scan(tmp_path)
    (tmp_path / "scans" / "tiny").mkdir(parents=True)
    (tmp_path / "scans" / "tiny" / "scan.lock").write_text(str(os.getppid()))  # a live process
    with pytest.raises(ScanError, match=r"in use by another wnae scan \(pid"):
        run_scan(config, name="tiny", scans_dir=tmp_path / "scans", data_dir=data)
    assert not (tmp_path / "scans" / "tiny" / "scan.json").exists()


def test_base_design_outside_the_space_is_a_config_error(tmp_path, data):
    config = write_scan(tmp_path, parameters={"quant.weight.bits": {"low": 6, "high": 8}})
    with pytest.raises(ConfigError, match=r"'quant.weight.bits': the base design's value 5 is outside \[6, 8\]"):
        run_scan(config, name="x", scans_dir=tmp_path / "scans", data_dir=data)
    assert not (tmp_path / "scans").exists()


def test_cli_reports_a_bad_scan_config_in_one_line(tmp_path, data, capsys):
    config = write_scan(tmp_path, parameters={"quant.weight.bits": {"low": 8, "high": 3}})
    assert main(["scan", str(config), "--data-dir", str(data), "--scans-dir", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "wnae scan: error:" in err
    assert "parameters.quant.weight.bits" in err
    assert "empty" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("scan", "needles"),
    [
        # a typo in a parameter path: named, not "the base design's value None is outside" nor the budget verdict
        (
            {"parameters": {"quant.weigth.bits": {"low": 4, "high": 8}}},
            ["parameters.quant.weigth.bits = 4", "unknown key 'quant.weigth'"],
        ),
        # a brief schedule that leaves the head no epochs
        ({"brief": {"epochs": 1}}, ["base config with brief", "epochs (1) must be larger"]),
    ],
)
def test_a_scan_that_cannot_train_its_candidates_is_refused_before_the_first_trial(
    tmp_path, data, capsys, scan, needles
):
    config = write_scan(tmp_path, **scan)
    assert main(["scan", str(config), "--data-dir", str(data), "--scans-dir", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert str(config) in err
    assert "outside" not in err
    for needle in needles:
        assert needle in err
    assert not (tmp_path / "s").exists()


def test_confirmation_retrains_the_front_on_fresh_seeds_and_judges_by_them(tmp_path, data):
    config = write_scan(tmp_path, trials=2, seeds=[0], confirm={"designs": 1, "seeds": [1]})
    result = run_scan(config, name="confirm", scans_dir=tmp_path / "scans", data_dir=data, synthesize=False)
    doc = json.loads((result.root / "pareto.json").read_text())
    confirmed = {cid for cid, r in doc["candidates"].items() if r["confirmed"]}
    assert "c000" in confirmed  # the base is always confirmed
    assert set(doc["front"]) <= confirmed  # only confirmed designs are judged
    for cid in confirmed:
        rec = doc["candidates"][cid]
        saved = json.loads((result.root / "candidates" / f"{cid}.confirm.result.json").read_text())
        assert [r["seed"] for r in saved["seeds"]] == [1]
        assert rec["objective"] == saved["objective"]  # judged on the fresh seed, not the search's
        assert rec["confirm_seeds"] == [1]
        assert len(rec["latency_by_seed"]) == 2
    assert (tmp_path / "scans" / "confirm" / "runs" / "c000-s1").is_dir()


def test_confirmation_seeds_must_be_new_to_the_search(tmp_path, data):
    config = write_scan(tmp_path, seeds=[0, 1], confirm={"designs": 2, "seeds": [1, 2]})
    with pytest.raises(ConfigError, match="must be non-empty and new to the search"):
        run_scan(config, name="x", scans_dir=tmp_path / "scans", data_dir=data)


def test_scan_on_a_dask_cluster_survives_a_killed_worker_with_the_same_results(finished, data, tmp_path):
    """The candidates as Dask tasks: a worker killed mid-candidate is replaced, its candidate rerun on
    the cluster, and every candidate's result equals the one trained in local processes."""
    from distributed import Client, LocalCluster

    _, _, local, _ = finished
    config = write_scan(tmp_path, synth={"designs": 0})
    cands = tmp_path / "scans" / "tiny" / "candidates"
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        victim = next(iter(client.run(os.getpid).values()))
        killed = threading.Event()

        def kill_mid_candidate() -> None:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and not list(cands.glob("*.log")):
                time.sleep(0.1)
            time.sleep(3)  # the candidates are training
            os.kill(victim, signal.SIGKILL)
            killed.set()

        thread = threading.Thread(target=kill_mid_candidate, daemon=True)
        thread.start()
        seen = []
        result = run_scan(
            config,
            name="tiny",
            scans_dir=tmp_path / "scans",
            data_dir=data,
            synthesize=False,
            scheduler=cluster.scheduler_address,
            on_finish=seen.append,
        )
        thread.join(5)
        assert killed.is_set()
        assert victim not in client.run(os.getpid).values()  # the nanny replaced it
    assert sorted(c.id for c in seen) == ["c000", "c001"]  # each candidate once, none lost
    by_id = {c.id: c for c in local.candidates}
    for cand in result.candidates:
        assert cand.ok, cand.result
        assert cand.params == by_id[cand.id].params
        assert cand.result["objective"] == by_id[cand.id].result["objective"]
        assert cand.result["efficiency"] == by_id[cand.id].result["efficiency"]
        cost = {k: v for k, v in cand.result["cost"].items() if k != "seconds"}
        assert cost == {k: v for k, v in by_id[cand.id].result["cost"].items() if k != "seconds"}


def test_a_bad_scheduler_is_refused_before_the_scan_starts(tmp_path, data):
    config = write_scan(tmp_path)
    with pytest.raises(ConfigError, match="use 'local'"):
        run_scan(config, name="tiny", scans_dir=tmp_path / "scans", data_dir=data, scheduler="udp://x")
    assert not (tmp_path / "scans").exists()

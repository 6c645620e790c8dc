from __future__ import annotations

import subprocess
import sys

import h5py
import pytest

from tests.conftest import random_particles
from wnae.cli import main

COMMANDS = ["data", "generate", "train", "evaluate", "convert", "csim", "synth-report", "rtl"]


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command in out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(capsys, command):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "usage: wnae" in capsys.readouterr().out


def test_python_m_wnae_runs():
    result = subprocess.run([sys.executable, "-m", "wnae", "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "generate" in result.stdout


def test_validate_and_fit_norm(tmp_path, capsys):
    path = tmp_path / "ok.h5"
    with h5py.File(path, "w") as f:
        f["Particles"] = random_particles(120)
    assert main(["data", "validate", str(path)]) == 0
    assert "OK, 120 events" in capsys.readouterr().out
    assert main(["data", "fit-norm", str(path), "-o", str(tmp_path / "n.json")]) == 0
    assert (tmp_path / "n.json").exists()


def test_user_error_is_one_line_exit_2(tmp_path, capsys):
    path = tmp_path / "bad.h5"
    p = random_particles(10)
    p[4, 0, 0] = -2.0
    with h5py.File(path, "w") as f:
        f["Particles"] = p
    assert main(["data", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "event 4: pT = -2 GeV < 0" in err
    assert "Traceback" not in err
    assert main(["data", "validate", str(tmp_path / "missing.h5")]) == 2
    assert "file not found" in capsys.readouterr().err


def _one_line_error(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    return err.rstrip("\n")


def test_invalid_command_line_values_name_the_option(tmp_path, capsys):
    from wnae.commands.evaluate import DEFAULT_CONFIG

    none = str(tmp_path / "no-data")
    err = _one_line_error(capsys, ["train", "--epochs", "0", "--data-dir", none, "--runs-dir", none])
    assert err == "wnae train: error: option --epochs (epochs=0): Input should be greater than or equal to 1"
    err = _one_line_error(capsys, ["train", "--seed", "-3", "--data-dir", none, "--runs-dir", none])
    assert err == "wnae train: error: option --seed (seed=-3): Input should be greater than or equal to 0"
    err = _one_line_error(capsys, ["evaluate", "--input-rate-khz", "-5", "--data-dir", none, "--runs-dir", none])
    assert err == "wnae evaluate: error: option --input-rate-khz (input_rate_khz=-5.0): Input should be greater than 0"
    assert "evaluate_default.yml" not in err
    # a check across keys (working points of the file above the option's rate) names both
    err = _one_line_error(capsys, ["evaluate", "--input-rate-khz", "6", "--data-dir", none, "--runs-dir", none])
    assert err.startswith(f"wnae evaluate: error: {DEFAULT_CONFIG} with --input-rate-khz: ")
    assert "target rate 100 kHz is above the input rate 6 kHz" in err


def test_resume_with_invalid_epochs_names_the_option(tmp_path):
    from wnae.config import dump_config
    from wnae.errors import ConfigError
    from wnae.models.config import TrainConfig
    from wnae.train.loop import train

    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.yml").write_text(dump_config(TrainConfig()))
    with pytest.raises(
        ConfigError, match=r"^option --epochs \(epochs=0\): Input should be greater than or equal to 1$"
    ):
        train(TrainConfig(), data_dir=tmp_path / "no-data", runs_dir=tmp_path, name="r", resume=True, epochs=0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "{path}: the config file is empty (write '{{}}' to take every default)"),
        ("model: ae\nepochs: 3\nmodel: vae\n", "{path}: line 3: duplicate key 'model' (first given on line 1)"),
        ("mcmc:\n  steps: 3\n  steps: 4\n", "{path}: line 3: duplicate key 'mcmc.steps' (first given on line 2)"),
        ("epochs: true\n", "{path}: 'epochs': Input should be a valid integer (got True)"),
        ("learning_rate: '0.01'\n", "{path}: 'learning_rate': Input should be a valid number (got '0.01')"),
    ],
)
def test_bad_config_files_are_one_line_errors(tmp_path, capsys, text, message):
    path = tmp_path / "c.yml"
    path.write_text(text)
    err = _one_line_error(
        capsys,
        ["train", "--config", str(path), "--data-dir", str(tmp_path / "no-data"), "--runs-dir", str(tmp_path / "runs")],
    )
    assert err == "wnae train: error: " + message.format(path=path)


def test_yaml_int_for_a_float_key_still_loads(tmp_path, capsys):
    path = tmp_path / "c.yml"
    path.write_text("model: ae\nlearning_rate: 1\nweight_decay: 0\n")
    err = _one_line_error(
        capsys,
        ["train", "--config", str(path), "--data-dir", str(tmp_path / "no-data"), "--runs-dir", str(tmp_path / "runs")],
    )
    assert "generate the data first" in err  # past the config, to the missing data

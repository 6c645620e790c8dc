"""Filesystem faults and nonsense values through the CLI (issue #14, parts 3 and 6): one line on
stderr naming the path or the option, exit status 2, no traceback, no temporary file left."""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path

import h5py
import pytest

from tests.conftest import random_particles
from wnae.cli import main


def _one_error_line(capsys, command: str, *needles: str) -> tuple[str, str]:
    """(the one stderr line, stdout)."""
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"wnae {command}: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0], out


def _no_temporaries(*directories: Path) -> None:
    for directory in directories:
        if directory.is_dir():
            assert not [p for p in directory.rglob(".*.tmp")], list(directory.rglob(".*.tmp"))


@pytest.fixture
def events_file(tmp_path) -> Path:
    path = tmp_path / "ok.h5"
    with h5py.File(path, "w") as f:
        f["Particles"] = random_particles(60)
    return path


@pytest.fixture
def a_file(tmp_path) -> Path:
    path = tmp_path / "a_file"
    path.write_text("not a directory\n")
    return path


def _deny_access(monkeypatch, denied: Path) -> None:
    """What a read-only directory looks like to a non-root user (tests run as root here)."""
    real = os.access

    def access(path, mode, *args, **kwargs):
        if Path(path) == denied and mode & os.W_OK:
            return False
        return real(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)


def _refuse_writes(monkeypatch, cls, method: str, target=lambda self, args: self) -> None:
    """The write itself fails with EACCES (e.g. a file system that refuses it)."""

    def refuse(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(target(self, args)))

    monkeypatch.setattr(cls, method, refuse)


# ------------------------------------------------------------------------------ data fit-norm


def test_fit_norm_output_is_a_directory(tmp_path, events_file, capsys):
    out = tmp_path / "norm.json"
    out.mkdir()
    assert main(["data", "fit-norm", str(events_file), "-o", str(out)]) == 2
    _one_error_line(capsys, "data", f"{out}: cannot write: it is a directory")
    _no_temporaries(tmp_path)


def test_fit_norm_checks_the_output_before_reading(tmp_path, capsys):
    out = tmp_path / "norm.json"
    out.mkdir()
    missing = tmp_path / "not_yet_generated.h5"  # would be the first error if the files came first
    assert main(["data", "fit-norm", str(missing), "-o", str(out)]) == 2
    _one_error_line(capsys, "data", f"{out}: cannot write: it is a directory")


def test_fit_norm_output_under_a_regular_file(tmp_path, events_file, a_file, capsys):
    out = a_file / "norm.json"
    assert main(["data", "fit-norm", str(events_file), "-o", str(out)]) == 2
    _one_error_line(capsys, "data", f"{a_file}: cannot write: it is a regular file, not a directory")
    _no_temporaries(tmp_path)


def test_fit_norm_output_directory_not_writable(tmp_path, events_file, capsys, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    _deny_access(monkeypatch, ro)
    assert main(["data", "fit-norm", str(events_file), "-o", str(ro / "norm.json")]) == 2
    _one_error_line(capsys, "data", f"{ro}: cannot write: permission denied")
    assert list(ro.iterdir()) == []


def test_fit_norm_write_refused(tmp_path, events_file, capsys, monkeypatch):
    out = tmp_path / "norm.json"
    _refuse_writes(monkeypatch, Path, "write_text")
    assert main(["data", "fit-norm", str(events_file), "-o", str(out)]) == 2
    _one_error_line(capsys, "data", f"{out}: cannot write: permission denied")
    assert not out.exists()
    _no_temporaries(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permission bits")
def test_fit_norm_output_directory_read_only_for_real(tmp_path, events_file, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert main(["data", "fit-norm", str(events_file), "-o", str(ro / "norm.json")]) == 2
        _one_error_line(capsys, "data", str(ro), "permission denied")
    finally:
        ro.chmod(0o700)


# ------------------------------------------------------------------------------- data summary


def test_summary_plot_dir_is_a_regular_file(events_file, a_file, capsys):
    assert main(["data", "summary", str(events_file), "--plots", str(a_file)]) == 2
    _, out = _one_error_line(capsys, "data", f"{a_file}: cannot write: it is a regular file, not a directory")
    assert out == ""  # failed before reading the files and printing the table, not after


def test_summary_plot_dir_under_a_regular_file(tmp_path, events_file, a_file, capsys):
    plots = a_file / "plots"
    assert main(["data", "summary", str(events_file), "--plots", str(plots)]) == 2
    _one_error_line(capsys, "data", str(plots), "a parent of it is a regular file")
    _no_temporaries(tmp_path)


def test_summary_plot_file_is_a_directory(tmp_path, events_file, capsys):
    plots = tmp_path / "plots"
    (plots / "jet.pdf").mkdir(parents=True)
    assert main(["data", "summary", str(events_file), "--plots", str(plots)]) == 2
    _one_error_line(capsys, "data", f"{plots / 'jet.pdf'}: cannot write: it is a directory")
    assert [p.name for p in plots.iterdir()] == ["jet.pdf"]  # checked before any plot was written


def test_summary_plot_dir_not_writable(tmp_path, events_file, capsys, monkeypatch):
    plots = tmp_path / "plots"
    plots.mkdir()
    _deny_access(monkeypatch, plots)
    assert main(["data", "summary", str(events_file), "--plots", str(plots)]) == 2
    _one_error_line(capsys, "data", f"{plots}: cannot write: permission denied")
    assert list(plots.iterdir()) == []


def test_summary_plot_write_refused(tmp_path, events_file, capsys, monkeypatch):
    from matplotlib.figure import Figure

    plots = tmp_path / "plots"
    _refuse_writes(monkeypatch, Figure, "savefig", target=lambda self, args: args[0])
    assert main(["data", "summary", str(events_file), "--plots", str(plots)]) == 2
    _one_error_line(capsys, "data", str(plots / "MET.png"), "permission denied")
    _no_temporaries(tmp_path)


# ----------------------------------------------------------------------------------- generate


@pytest.fixture
def stop_before_pythia(monkeypatch):
    """A test here that got as far as running Pythia would fail (instead of running for minutes)."""
    from wnae.data.generate import run

    def refuse(*args, **kwargs):
        pytest.fail("generation started although the command should have stopped first")

    for name in ("_ensure_pool", "_ensure_mpi_file", "_write_samples"):
        monkeypatch.setattr(run, name, refuse)
    return refuse


@pytest.fixture
def no_generation(monkeypatch, stop_before_pythia):
    """The option checks come before ``generate()`` is even called."""
    from wnae.data.generate import run

    monkeypatch.setattr(run, "generate", stop_before_pythia)


def _generate(*args: str) -> list[str]:
    return ["generate", "--samples", "qcd", "--events", "5", "--pileup", "0", *args]


def test_generate_output_dir_is_a_regular_file(a_file, capsys, stop_before_pythia):
    assert main(_generate("--output-dir", str(a_file))) == 2
    _one_error_line(capsys, "generate", f"{a_file}: cannot write: it is a regular file, not a directory")


def test_generate_output_dir_under_a_regular_file(a_file, capsys, stop_before_pythia):
    out = a_file / "data"
    assert main(_generate("--output-dir", str(out))) == 2
    _one_error_line(capsys, "generate", str(out), "a parent of it is a regular file, not a directory")


def test_generate_output_dir_not_writable(tmp_path, capsys, monkeypatch, stop_before_pythia):
    out = tmp_path / "data"
    out.mkdir()
    _deny_access(monkeypatch, out)
    assert main(_generate("--output-dir", str(out))) == 2
    _one_error_line(capsys, "generate", f"{out}: cannot write: permission denied")
    assert list(out.iterdir()) == []


def test_generate_sample_file_is_a_directory(tmp_path, capsys, stop_before_pythia):
    out = tmp_path / "data"
    (out / "qcd.h5").mkdir(parents=True)
    assert main(_generate("--output-dir", str(out))) == 2
    _one_error_line(capsys, "generate", f"{out / 'qcd.h5'}: cannot write: it is a directory")
    _no_temporaries(out)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--scale", "-1"], "option --scale (scale=-1.0): must be a positive number"),
        (["--scale", "0"], "option --scale (scale=0.0): must be a positive number"),
        (["--scale", "nan"], "option --scale (scale=nan): must be a positive number"),
        (["--scale", "inf"], "option --scale (scale=inf): must be a positive number"),
        (["--events", "0"], "option --events (events=0): must be at least 1 event per sample"),
        (["--events", "-5"], "option --events (events=-5): must be at least 1 event per sample"),
        (["--jobs", "0"], "option --jobs (jobs=0): must be at least 1 worker process"),
        (["--jobs", "-2"], "option --jobs (jobs=-2): must be at least 1 worker process"),
        (["--pileup", "-1"], "option --pileup (pileup=-1.0): must be a finite number >= 0"),
        (["--pileup", "nan"], "option --pileup (pileup=nan): must be a finite number >= 0"),
        (["--pileup", "inf"], "option --pileup (pileup=inf): must be a finite number >= 0"),
        (["--samples", ","], "option --samples (samples=','): names no sample"),
        (["--seed", "-1"], "option --seed (seed=-1)"),
    ],
)
def test_generate_nonsense_values_name_the_option(tmp_path, capsys, no_generation, argv, message):
    assert main(["generate", "--output-dir", str(tmp_path / "data"), *argv]) == 2
    _one_error_line(capsys, "generate", message)
    assert not (tmp_path / "data").exists()


def test_generate_library_rejects_nonsense_jobs(tmp_path, stop_before_pythia):
    from wnae.config import parse_config
    from wnae.data.generate.config import GenerateConfig
    from wnae.data.generate.run import generate
    from wnae.errors import ConfigError

    cfg = parse_config(GenerateConfig, {"output_dir": str(tmp_path), "samples": {"qcd": {"n_events": 5}}})
    for jobs in (0, -1):
        with pytest.raises(ConfigError, match="jobs must be a positive number of worker processes"):
            generate(cfg, jobs=jobs, progress=False)


# ----------------------------------------------------------------------------- manifest values


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("n_generated", 0, r"sample 'sig_a': n_generated = 0 must be a positive integer"),
        ("n_generated", -4, r"sample 'sig_a': n_generated = -4 must be a positive integer"),
        ("n_generated", 1.5, r"sample 'sig_a': n_generated = 1.5 must be a positive integer"),
        ("n_generated", 100, r"sample 'sig_a': n_generated = 100 is less than the 200 events stored"),
        ("n_events", -1, r"sample 'sig_a': n_events = -1 must be an integer >= 0"),
        ("cross_section_pb", float("nan"), r"sample 'sig_a': cross_section_pb = nan must be a finite number"),
        ("cross_section_pb", -1.0, r"sample 'sig_a': cross_section_pb = -1.0 must be a finite number"),
    ],
)
def test_manifest_values_name_the_sample(toy_data_dir, key, value, message):
    from wnae.data.samples import load_manifest
    from wnae.errors import DataError

    path = toy_data_dir / "manifest.json"
    doc = json.loads(path.read_text())
    [row] = [r for r in doc["samples"] if r["name"] == "sig_a"]
    row[key] = value
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=message) as info:
        load_manifest(toy_data_dir)
    assert str(info.value).startswith(f"{path}: ")


# ------------------------------------------------------------------- bad values in training data


def test_huge_pt_in_training_data_names_the_file(toy_data_dir):
    """Not an input-precision problem of the model: bad data in a named file, dataset and event."""
    from wnae.data.io import EventSet, read_events, write_events
    from wnae.errors import DataError
    from wnae.train.loop import load_sm_split

    path = toy_data_dir / "qcd.h5"
    events = read_events(path)
    events.particles[123, 9, 0] = 1e30  # the leading jet of event 123
    with h5py.File(path, "a") as f:
        f["Particles"][123, 9, 0] = 1e30
    with pytest.raises(
        DataError,
        match=rf"^{re.escape(str(path))}:/Particles event 123: pT = 1e\+30 GeV > 6800 GeV = sqrt\(s\)/2, "
        r".* in slot 9 \(jet_0\)$",
    ):
        load_sm_split(toy_data_dir, "train")
    with pytest.raises(DataError, match="event 123: pT = 1e"):  # and it cannot be written either
        write_events(path, EventSet(events.particles))

"""Output paths that cannot be written (a directory, under a regular file, not writable) through ``wnae.cli.main``.

Each is one line naming the path, exit status 2, no traceback, no ``.tmp`` left behind, and for
``synth-report --json`` and ``evaluate --output`` it comes before any work. Tests run as root, where
permission bits do not stop writes: "not writable" is an ``EACCES`` raised on purpose.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from tests.evaluate.conftest import make_run_dir
from tests.firmware.conftest import PASSING_TARGET, lay_out_reports
from wnae.cli import main


def _error(capsys, argv):
    rc = main(argv)
    captured = capsys.readouterr()
    assert rc == 2, captured
    assert captured.err.count("\n") == 1, captured.err
    assert "Traceback" not in captured.err
    return captured.out, captured.err.rstrip("\n")


def _no_temporaries(root: Path) -> None:
    assert [p for p in root.rglob("*") if p.name.endswith(".tmp")] == []


def _deny(monkeypatch, denied: Path) -> None:
    """``os.access`` says ``denied`` is not writable (as for a non-root user without permission)."""
    real = os.access

    def access(path, mode, *args, **kwargs):
        if Path(path).resolve() == denied.resolve() and mode & os.W_OK:
            return False
        return real(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)


# ---------------------------------------------------------------- synth-report --json


@pytest.fixture
def synth(tmp_path):
    """``synth-report`` on the real Vivado HLS reports, for a target whose budget they meet."""
    reports = lay_out_reports(tmp_path / "reports")
    target = tmp_path / "zynq_pass.yml"
    target.write_text(PASSING_TARGET)
    return ["synth-report", str(reports), "--target", str(target)]


def test_synth_report_json_is_a_directory(tmp_path, synth, capsys):
    target = tmp_path / "out"
    target.mkdir()
    out, err = _error(capsys, [*synth, "--json", str(target)])
    assert err == f"wnae synth-report: error: --json {target}: cannot write: it is a directory (give a file name)"
    assert out == ""  # before the reports are read
    assert list(target.iterdir()) == []
    _no_temporaries(tmp_path)


def test_synth_report_json_under_a_regular_file(tmp_path, synth, capsys):
    blocker = tmp_path / "results"
    blocker.write_text("not a directory\n")
    target = blocker / "deep" / "check.json"
    out, err = _error(capsys, [*synth, "--json", str(target)])
    assert err == (
        f"wnae synth-report: error: --json {target}: cannot write: {blocker} is a regular file, not a directory"
    )
    assert out == ""
    assert blocker.read_text() == "not a directory\n"
    _no_temporaries(tmp_path)


def test_synth_report_json_directory_not_writable(tmp_path, synth, capsys, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    _deny(monkeypatch, locked)
    target = locked / "check.json"
    out, err = _error(capsys, [*synth, "--json", str(target)])
    assert (
        err == f"wnae synth-report: error: --json {target}: cannot write: permission denied ({locked} is not writable)"
    )
    assert out == ""
    assert list(locked.iterdir()) == []


def test_synth_report_json_write_refused(tmp_path, synth, capsys, monkeypatch):
    """EACCES at the write itself (the check before passed): one line naming the file, no temporary left."""
    target = tmp_path / "check.json"
    real = Path.write_text

    def write_text(self, *args, **kwargs):
        if self.parent == tmp_path and self.name.endswith(".tmp"):
            real(self, "partial")  # a half-written temporary that must not stay behind
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)
    _, err = _error(capsys, [*synth, "--json", str(target)])
    assert err == f"wnae synth-report: error: {target}: cannot write: permission denied"
    assert not target.exists()
    _no_temporaries(tmp_path)


def test_synth_report_json_still_written(tmp_path, synth, capsys):
    target = tmp_path / "new" / "check.json"
    assert main([*synth, "--json", str(target)]) == 0
    assert '"verdict": "within budget"' in target.read_text()
    _no_temporaries(tmp_path)


# ---------------------------------------------------------------- evaluate --output


@pytest.fixture
def two_runs(tmp_path):
    runs = tmp_path / "runs"
    return [str(make_run_dir(runs, "a")), str(make_run_dir(runs, "b"))]


def _evaluate(two_runs, tmp_path, output):
    # no data directory: the output is checked before any run is loaded or scored
    return ["evaluate", *two_runs, "--data-dir", str(tmp_path / "no-data"), "--output", str(output)]


def test_evaluate_output_is_a_regular_file(tmp_path, two_runs, capsys):
    target = tmp_path / "comparison"
    target.write_text("keep me\n")
    out, err = _error(capsys, _evaluate(two_runs, tmp_path, target))
    assert err == f"wnae evaluate: error: --output {target}: cannot write: it is a regular file, not a directory"
    assert out == ""
    assert target.read_text() == "keep me\n"
    _no_temporaries(tmp_path)


def test_evaluate_output_under_a_regular_file(tmp_path, two_runs, capsys):
    blocker = tmp_path / "results"
    blocker.write_text("x")
    target = blocker / "comparison"
    out, err = _error(capsys, _evaluate(two_runs, tmp_path, target))
    assert err == (
        f"wnae evaluate: error: --output {target}: cannot create the directory: "
        "a parent of it is a regular file, not a directory"
    )
    assert out == ""
    _no_temporaries(tmp_path)


def test_evaluate_output_not_writable(tmp_path, two_runs, capsys, monkeypatch):
    parent = tmp_path / "locked"
    parent.mkdir()
    target = parent / "comparison"
    real = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if self == target:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    _, err = _error(capsys, _evaluate(two_runs, tmp_path, target))
    assert err == f"wnae evaluate: error: --output {target}: cannot create the directory: permission denied"
    assert not target.exists()


def test_evaluate_output_existing_directory_not_writable(tmp_path, two_runs, capsys, monkeypatch):
    target = tmp_path / "comparison"
    target.mkdir()
    _deny(monkeypatch, target)
    _, err = _error(capsys, _evaluate(two_runs, tmp_path, target))
    assert err == f"wnae evaluate: error: --output {target}: cannot write: permission denied"


def test_evaluate_default_comparison_dir_is_checked_too(tmp_path, two_runs, capsys):
    target = Path(two_runs[0]).parent / "comparison"
    target.write_text("x")
    _, err = _error(capsys, ["evaluate", *two_runs, "--data-dir", str(tmp_path / "no-data")])
    assert err == f"wnae evaluate: error: {target}: cannot write: it is a regular file, not a directory"


def test_one_run_does_not_need_the_comparison_dir(tmp_path, two_runs, capsys):
    blocker = tmp_path / "results"
    blocker.write_text("x")
    _, err = _error(
        capsys,
        ["evaluate", two_runs[0], "--data-dir", str(tmp_path / "no-data"), "--output", str(blocker / "comparison")],
    )
    assert "results" not in err  # --output is only used with several runs
    assert not (tmp_path / "runs" / "comparison").exists()


def test_library_writers_name_a_plot_or_comparison_dir_that_is_a_file(tmp_path):
    """The same for library callers (no CLI pre-check): plots and comparisons go through ensure_dir."""
    import matplotlib.pyplot as plt

    from wnae.errors import OutputError
    from wnae.evaluate.compare import write_comparison
    from wnae.evaluate.plots import save_figure

    blocker = tmp_path / "plots"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="plots: cannot write: it is a regular file, not a directory"):
        save_figure(plt.figure(), blocker, "score", ["png"])
    with pytest.raises(OutputError, match="plots: cannot write: it is a regular file"):
        write_comparison([], blocker)

"""Files that pass the layout checks but hold wrong data (issue #14, part 2): unwritten storage,
unphysical values, complex numbers, broken metadata — each a clear error (or a warning with counts)."""

from __future__ import annotations

import json
import logging

import h5py
import numpy as np
import pytest

from tests.conftest import random_particles
from wnae.cli import main
from wnae.data.axol1tl import read_axol1tl
from wnae.data.io import EventSet, count_events, iter_events, read_events, read_metadata, write_events
from wnae.data.preprocess import fit_normaliser, load_normaliser
from wnae.errors import DataError


def _one_error_line(capsys, *needles: str) -> str:
    captured = capsys.readouterr()
    err = captured.err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# --------------------------------------------------------------------------- unwritten storage


def _declared_but_partly_written(path, n_declared, n_written, **create):
    p = random_particles(n_written, 5)
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("Particles", shape=(n_declared, 19, 4), dtype="f4", **create)
        ds[:n_written] = p
    return p


def test_unwritten_chunks_are_an_error(tmp_path, capsys):
    path = tmp_path / "partial.h5"
    _declared_but_partly_written(path, 2_000_000, 100, chunks=(4096, 19, 4), compression="gzip")
    message = (
        r"partial.h5:/Particles event 100: 1999900 of the 2000000 events, from this one on, were never "
        r"written \(488 of 489 HDF5 chunks are unallocated"
    )
    with pytest.raises(DataError, match=message) as info:
        next(iter_events(path))  # before the first chunk is handed out
    assert info.value.event_index == 100
    with pytest.raises(DataError, match=message):
        count_events(path)
    assert main(["data", "validate", str(path)]) == 2
    _one_error_line(capsys, str(path), "event 100", "never written", "incomplete")


def test_unwritten_chunk_in_the_middle(tmp_path):
    path = tmp_path / "gap.h5"
    p = random_particles(5000, 6)
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("Particles", shape=(5000, 19, 4), dtype="f4", chunks=(1000, 19, 4))
        ds[:2000] = p[:2000]
        ds[3000:] = p[3000:]  # a writer that skipped a block
    with pytest.raises(
        DataError,
        match=r"event 2000: 1000 of the 5000 events, from this one on, were never written "
        r"\(1 of 5 HDF5 chunks",
    ):
        read_events(path)


def test_all_zero_tail_of_a_contiguous_dataset_is_an_error(tmp_path, capsys):
    path = tmp_path / "contiguous.h5"
    _declared_but_partly_written(path, 5000, 100)  # contiguous: all storage allocated at the first write
    with pytest.raises(
        DataError,
        match=r"contiguous.h5:/Particles event 100: the last 4900 of 5000 events are empty "
        r"\(no MET, no objects\), which is how HDF5 reads storage that was never written",
    ):
        read_events(path)
    assert main(["data", "fit-norm", str(path), "-o", str(tmp_path / "n.json")]) == 2
    _one_error_line(capsys, str(path), "event 100", "the last 4900 of 5000 events are empty")
    assert not (tmp_path / "n.json").exists()


def test_all_zero_tail_of_written_chunks_is_an_error(tmp_path):
    """Zeros written explicitly (or chunks allocated early): a full chunk of empty events at the end."""
    path = tmp_path / "zeros.h5"
    p = random_particles(3000, 7)
    p[1700:] = 0
    with h5py.File(path, "w") as f:
        f.create_dataset("Particles", data=p, chunks=(1000, 19, 4))
    with pytest.raises(DataError, match="event 1700: the last 1300 of 3000 events are empty"):
        read_events(path)


def test_a_file_of_only_empty_events_is_an_error(tmp_path):
    path = write_events(tmp_path / "nothing.h5", EventSet(np.zeros((3, 19, 4), np.float32)))
    with pytest.raises(DataError, match="event 0: the last 3 of 3 events are empty"):
        read_events(path)


def test_scattered_empty_events_are_a_warning_with_counts(tmp_path, caplog):
    p = random_particles(3000, 8)
    p[[17, 1500, 2996, 2997, 2998, 2999]] = 0  # a short empty tail (< one chunk) is not unwritten storage
    path = write_events(tmp_path / "some_empty.h5", EventSet(p))
    with caplog.at_level(logging.WARNING, logger="wnae.data.io"):
        events = read_events(path)
    assert len(events) == 3000
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith(
        f"{path}:/Particles: 6 of 3000 events are empty (no MET, no objects), the first at event 17"
    )
    contiguous = tmp_path / "contiguous.h5"
    with h5py.File(contiguous, "w") as f:
        f["Particles"] = p
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="wnae.data.io"):
        read_events(contiguous)
    assert "6 of 3000 events are empty" in caplog.text


def test_unwritten_axol1tl_dataset(tmp_path):
    path = tmp_path / "axo.h5"
    p = random_particles(50, 1)
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("data/Background_data/Train/DATA", shape=(5000, 57), dtype="f4")
        ds[:50] = p[..., :3].reshape(50, 57)
        f["data/Background_data/Test/DATA"] = p[..., :3]
    with pytest.raises(DataError, match=r"Background_data/Train/DATA event 50: the last 4950 of 5000 events are empty"):
        read_axol1tl(path)


# ------------------------------------------------------------------------- unphysical values


def test_huge_pt_fails_validation_naming_file_dataset_event(tmp_path, capsys):
    path = tmp_path / "qcd.h5"
    p = random_particles(400, 9)
    p[321, 0, 0] = 1e30
    with h5py.File(path, "w") as f:
        f["Particles"] = p
    out = tmp_path / "norm.json"
    assert main(["data", "fit-norm", str(path), "-o", str(out), "--kind", "fixed_point"]) == 2
    _one_error_line(capsys, f"{path}:/Particles event 321: pT = 1e+30 GeV > 6800 GeV = sqrt(s)/2")
    assert not out.exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_huge_pt_in_float64_is_not_reported_as_inf(tmp_path):
    path = tmp_path / "f64.h5"
    p = random_particles(20, 9).astype(np.float64)
    p[3, 9, 0] = 1e300  # beyond float32: must not become "inf" before it is checked
    with h5py.File(path, "w") as f:
        f["Particles"] = p
    with pytest.raises(DataError, match=r"event 3: pT = 1e\+300 GeV > 6800 GeV"):
        read_events(path)


def test_bound_uses_the_files_sqrt_s(tmp_path):
    p = random_particles(20, 10)
    p[0, 0, 0] = 6900.0
    path = write_events(tmp_path / "fcc.h5", EventSet(p), metadata={"sqrt_s_gev": 14_000.0})
    assert read_events(path).particles[0, 0, 0] == 6900.0
    with pytest.raises(DataError, match="pT = 6900 GeV > 6800 GeV"):
        write_events(tmp_path / "run3.h5", EventSet(p))


def test_fixed_point_fit_that_overflows_the_word_names_the_feature():
    p = random_particles(300, 11)
    p[5, 0, 0] = 1e30
    with pytest.raises(
        DataError,
        match=r"feature 'MET_pt' does not fit the signed 16-bit hardware word "
        r"\[-32768, 32767\]: its values reach 1e\+30 GeV",
    ):
        fit_normaliser([p], "fixed_point")
    with pytest.raises(DataError, match=r"feature 'MET_pt' .* units of 0.0001 GeV .* choose a coarser lsb"):
        fit_normaliser([random_particles(300, 11)], "fixed_point", lsb={"pt": 1e-4})
    fit_normaliser([p], "standard")  # float: no hardware word


def test_valid_data_always_fits_the_word():
    """The extremes of valid events (pT = 6800 GeV, |eta| = 5, |phi| = pi) still fit 16 bits."""
    p = random_particles(200, 12)
    p[0, 9] = [6800.0, 5.0, np.pi, 4]
    p[1, 10] = [6800.0, -5.0, -np.pi, 4]
    p[1, 9] = [6800.0, -5.0, -np.pi, 4]
    norm = fit_normaliser([p], "fixed_point")
    assert np.abs(norm.offset).max() < 2**15
    assert norm.shift.max() <= 15


@pytest.mark.parametrize(
    ("offset", "shift", "message"),
    [
        (-(2**63), 0, r"feature 'MET_pt': offset -9.22337e\+18 does not fit the signed 16-bit hardware word"),
        (0, 97, r"feature 'MET_pt': shift 97 is outside \[0, 15\]"),
        (2**70, 0, "not a valid normalisation file"),
    ],
)
def test_loaded_normalisation_outside_the_word(tmp_path, offset, shift, message):
    norm = fit_normaliser([random_particles(300, 13)], "fixed_point")
    d = {"kind": "fixed_point", **norm.to_dict()}
    d["offset"][0], d["shift"][0] = offset, shift
    path = tmp_path / "norm.json"
    path.write_text(json.dumps(d))
    with pytest.raises(DataError, match=message) as info:
        load_normaliser(path)
    assert str(info.value).startswith(str(path))


# ---------------------------------------------------------------------- complex, bad metadata


def test_complex_dataset_is_rejected(tmp_path, capsys):
    path = tmp_path / "complex.h5"
    with h5py.File(path, "w") as f:
        f["Particles"] = random_particles(10).astype(np.complex64)
    assert main(["data", "validate", str(path)]) == 2
    _one_error_line(capsys, f"{path}:/Particles: expected real numbers (float or int), got dtype complex64")
    axo = tmp_path / "axo.h5"
    with h5py.File(axo, "w") as f:
        f["data/Background_data/Train/DATA"] = random_particles(10)[..., :3].astype(np.complex128)
        f["data/Background_data/Test/DATA"] = random_particles(10)[..., :3]
    with pytest.raises(DataError, match="Train/DATA: expected real numbers"):
        read_axol1tl(axo)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{not json", r"metadata attribute 'meta/sample' is not valid JSON"),
        (5, r"metadata attribute 'meta/sample' must be a JSON-encoded string, got int64"),
        (np.arange(3), r"metadata attribute 'meta/sample' must be a JSON-encoded string, got int64 array"),
        (b"\xff\xfe", r"metadata attribute 'meta/sample' is not UTF-8 text"),
    ],
)
def test_bad_metadata_attribute_is_a_clear_error(tmp_path, capsys, value, message):
    path = write_events(tmp_path / "x.h5", EventSet(random_particles(20)))
    with h5py.File(path, "a") as f:
        f.attrs["meta/sample"] = np.bytes_(value) if isinstance(value, bytes) else value
    with pytest.raises(DataError, match=message) as info:
        read_metadata(path)
    assert str(info.value).startswith(str(path))
    assert main(["data", "summary", str(path), "--no-plots"]) == 2
    _one_error_line(capsys, str(path), "meta/sample")
    assert main(["data", "validate", str(path)]) == 2
    _one_error_line(capsys, str(path), "meta/sample")


def test_metadata_as_fixed_length_bytes_is_read(tmp_path):
    path = write_events(tmp_path / "x.h5", EventSet(random_particles(20)))
    with h5py.File(path, "a") as f:
        f.attrs["meta/sample"] = np.bytes_(json.dumps("qcd"))
    assert read_metadata(path) == {"sample": "qcd"}

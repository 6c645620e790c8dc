from __future__ import annotations

import hashlib

import h5py
import numpy as np
import pytest

from tests.conftest import random_particles
from wnae.data.axol1tl import AXOL1TLDataset, read_axol1tl, write_axol1tl
from wnae.data.io import (
    EventSet,
    count_events,
    iter_events,
    read_events,
    write_events,
)
from wnae.errors import DataError


def _events(n: int = 300, seed: int = 0) -> EventSet:
    p = random_particles(n, seed)
    labels = np.arange(n) % 4
    names = np.where(labels == 0, "dy", "qcd")
    return EventSet(p, labels, names, {"cross_section_mb": 1.5e-6, "seed": seed, "settings": ["a", "b"]})


def test_round_trip_our_layout(tmp_path):
    events = _events()
    path = write_events(tmp_path / "x.h5", events, metadata={"generator": "test"})
    back = read_events(path)
    np.testing.assert_array_equal(back.particles, events.particles)
    np.testing.assert_array_equal(back.process_label, events.process_label)
    np.testing.assert_array_equal(back.sample_name, events.sample_name)
    assert back.metadata == {**events.metadata, "generator": "test"}
    assert count_events(path) == 300
    with h5py.File(path) as f:  # the public ADC2021 names are present
        assert [s.decode() for s in f["Particles_Names"][()]] == ["Pt", "Eta", "Phi", "Class"]
        assert f["Particles_Classes"].shape == (4,)
        assert f["Particles"].dtype == np.float32


def test_reads_plain_adc2021_file(tmp_path):
    p = random_particles(50, 3)
    path = tmp_path / "adc.h5"
    with h5py.File(path, "w") as f:
        f["Particles"] = p
    back = read_events(path)
    np.testing.assert_array_equal(back.particles, p)
    assert back.process_label is None
    assert back.sample_name is None
    assert back.features.shape == (50, 57)
    np.testing.assert_array_equal(back.features[:, 3:6], p[:, 1, :3])


def test_chunked_reading_equals_whole(tmp_path):
    events = _events(1037)
    path = write_events(tmp_path / "x.h5", events)
    chunks = list(iter_events(path, chunk_events=100))
    assert [len(c) for c in chunks] == [100] * 10 + [37]
    joined = EventSet.concatenate(chunks)
    whole = read_events(path)
    np.testing.assert_array_equal(joined.particles, whole.particles)
    np.testing.assert_array_equal(joined.process_label, whole.process_label)
    np.testing.assert_array_equal(read_events(path, start=250, stop=300).particles, events.particles[250:300])


def test_write_is_byte_stable(tmp_path):
    a = write_events(tmp_path / "a.h5", _events(seed=5))
    b = write_events(tmp_path / "b.h5", _events(seed=5))
    c = write_events(tmp_path / "c.h5", _events(seed=6))
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b, c)]
    assert digest[0] == digest[1]
    assert digest[0] != digest[2]


def test_failed_write_leaves_nothing(tmp_path):
    bad = _events()
    bad.particles[7, 2, 0] = np.nan
    with pytest.raises(DataError, match="event 7"):
        write_events(tmp_path / "x.h5", bad)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DataError, match="JSON"):
        write_events(tmp_path / "y.h5", _events(), metadata={"bad": object()})
    assert list(tmp_path.iterdir()) == []


def test_existing_file_survives_failed_overwrite(tmp_path):
    path = write_events(tmp_path / "x.h5", _events(seed=1))
    before = path.read_bytes()
    bad = _events(seed=2)
    bad.particles[0, 0, 0] = -1
    with pytest.raises(DataError):
        write_events(path, bad)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "file not found"),
        (lambda p: p.write_bytes(b"not hdf5 at all" * 100), "not a readable HDF5 file"),
        (lambda p: h5py.File(p, "w").create_dataset("Other", data=[1]), "missing dataset 'Particles'"),
        (lambda p: h5py.File(p, "w").create_dataset("Particles", data=np.zeros((3, 19, 3))), r"shape \(n_events"),
        (lambda p: h5py.File(p, "w").create_group("Particles"), "is a group"),
    ],
)
def test_unreadable_files_are_clear_errors(tmp_path, make, message):
    path = tmp_path / "in.h5"
    f = make(path)
    if isinstance(f, h5py.Dataset | h5py.Group):
        f.file.close()
    with pytest.raises(DataError, match=message) as info:
        read_events(path)
    assert str(path) in str(info.value)


def test_truncated_file_is_clear_error(tmp_path):
    path = write_events(tmp_path / "x.h5", _events(2000), compression=None)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=str(path)):
        read_events(path)


def test_bad_values_inside_file_name_event(tmp_path):
    p = random_particles(400, 2)
    p[321, 9, 1] = 7.5  # jet eta out of range
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f["Particles"] = p
    with pytest.raises(DataError, match=r"bad.h5:/Particles event 321: \|eta\| = 7.5"):
        list(iter_events(path, chunk_events=100))


def test_label_length_mismatch(tmp_path):
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as f:
        f["Particles"] = random_particles(10)
        f["process_label"] = np.zeros(9, np.int16)
    with pytest.raises(DataError, match="process_label"):
        read_events(path)


def test_axol1tl_round_trip(tmp_path):
    ds = AXOL1TLDataset(
        random_particles(200, 1),
        random_particles(100, 2),
        {"ato4l": random_particles(50, 3), "htautau": random_particles(40, 4)},
        norm_scale=np.linspace(1, 2, 57),
        norm_bias=np.linspace(-1, 1, 57),
    )
    path = write_axol1tl(tmp_path / "axo.h5", ds)
    back = read_axol1tl(path)
    np.testing.assert_array_equal(back.background_train, ds.background_train)
    np.testing.assert_array_equal(back.background_test, ds.background_test)
    assert sorted(back.signals) == ["ato4l", "htautau"]
    np.testing.assert_array_equal(back.signals["ato4l"], ds.signals["ato4l"])
    np.testing.assert_array_equal(back.norm_scale, ds.norm_scale)
    np.testing.assert_array_equal(back.norm_bias, ds.norm_bias)


def test_axol1tl_flat_layout_and_errors(tmp_path):
    p = random_particles(30, 1)
    path = tmp_path / "axo.h5"
    with h5py.File(path, "w") as f:
        f["data/Background_data/Train/DATA"] = p[..., :3].reshape(30, 57)
        f["data/Background_data/Test/DATA"] = p[..., :3]
    back = read_axol1tl(path)
    np.testing.assert_array_equal(back.background_train, p)
    assert back.norm_scale is None
    with h5py.File(path, "a") as f:
        f["Normalisation/norm_scale"] = np.zeros(57)
        f["Normalisation/norm_bias"] = np.zeros(57)
    with pytest.raises(DataError, match="norm_scale is zero"):
        read_axol1tl(path)
    with h5py.File(path, "a") as f:
        del f["data/Background_data/Test/DATA"]
    with pytest.raises(DataError, match="missing dataset 'data/Background_data/Test/DATA'"):
        read_axol1tl(path)

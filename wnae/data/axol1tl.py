"""The AXOL1TL file layout: background train/test and signals in one HDF5 file, with its normalisation.

``data/Background_data/{Train,Test}/DATA``, ``data/Signal_data/<name>/DATA`` (float (N, 19, 3)
pT/η/φ, or (N, 57) flattened) and ``Normalisation/{norm_scale,norm_bias}`` (57 values each;
normalised = (x − bias) / scale). Read with every check of :mod:`wnae.data.integrity`; written
atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from wnae._io import atomic_path
from wnae.data.integrity import check_real, check_written, h5_dataset, open_h5, read_block
from wnae.data.schema import N_FEATURES, N_OBJECTS, SLOT_CLASS
from wnae.data.validate import validate_particles
from wnae.errors import DataError

__all__ = ["AXOL1TLDataset", "read_axol1tl", "to_particles", "write_axol1tl"]


@dataclass
class AXOL1TLDataset:
    """Contents of an AXOL1TL-style file.

    Attributes:
        background_train, background_test: float32 (n, 19, 4) events (class ids reconstructed from
            the slot for pT > 0).
        signals: signal name → float32 (n, 19, 4) events.
        norm_scale, norm_bias: float (57,) normalisation, or None if the file has none;
            normalised features = (features − norm_bias) / norm_scale.
    """

    background_train: np.ndarray
    background_test: np.ndarray
    signals: dict[str, np.ndarray]
    norm_scale: np.ndarray | None = None
    norm_bias: np.ndarray | None = None


def to_particles(data: np.ndarray, path: str | Path, dataset: str) -> np.ndarray:
    """(n,57) / (n,19,3) / (n,19,4) float → validated float32 (n,19,4), with class ids from the slot
    for filled objects (AXOL1TL arrays store pT, η, φ only)."""
    path = Path(path)
    n = data.shape[0] if data.ndim else 0
    if data.ndim == 2 and data.shape[1] == N_FEATURES:
        data = data.reshape(n, N_OBJECTS, 3)
    # float64 until validated: a cast to float32 first would turn huge values into inf
    if data.ndim == 3 and data.shape[1:] == (N_OBJECTS, 4):
        particles = data.astype(np.float64)
    elif data.ndim == 3 and data.shape[1:] == (N_OBJECTS, 3):
        particles = np.zeros((n, N_OBJECTS, 4), np.float64)
        particles[..., :3] = data
        particles[..., 3] = np.where(data[..., 0] > 0, SLOT_CLASS[None, :], 0)
    else:
        msg = f"expected shape (n, {N_FEATURES}), (n, {N_OBJECTS}, 3) or (n, {N_OBJECTS}, 4), got {data.shape}"
        raise DataError(msg, path=path, dataset=dataset)
    validate_particles(particles, path=path, dataset=dataset)
    return particles.astype(np.float32)


def read_axol1tl(path: str | Path) -> AXOL1TLDataset:
    """Read an AXOL1TL-style file (see module docstring) and validate every sample."""
    path = Path(path)
    with open_h5(path) as f:

        def load(name: str) -> np.ndarray:
            ds = h5_dataset(f, name, path)
            check_real(ds, path)
            if ds.ndim >= 2:
                check_written(ds, path)
            return to_particles(read_block(ds, 0, ds.shape[0], path), path, name)

        train = load("data/Background_data/Train/DATA")
        test = load("data/Background_data/Test/DATA")
        signals = {}
        group = f.get("data/Signal_data")
        if group is not None:
            for name in sorted(group.keys()):
                signals[name] = load(f"data/Signal_data/{name}/DATA")
        scale = bias = None
        if "Normalisation" in f:
            scale_ds = h5_dataset(f, "Normalisation/norm_scale", path)
            bias_ds = h5_dataset(f, "Normalisation/norm_bias", path)
            for ds in (scale_ds, bias_ds):
                check_real(ds, path)
            scale = np.asarray(scale_ds[()], np.float64).reshape(-1)
            bias = np.asarray(bias_ds[()], np.float64).reshape(-1)
            for name, arr in (("norm_scale", scale), ("norm_bias", bias)):
                if arr.shape != (N_FEATURES,):
                    msg = f"expected {N_FEATURES} values, got {arr.size}"
                    raise DataError(msg, path=path, dataset=f"Normalisation/{name}")
                if not np.isfinite(arr).all():
                    msg = "non-finite normalisation value"
                    raise DataError(msg, path=path, dataset=f"Normalisation/{name}")
            if np.any(scale == 0):
                msg = f"norm_scale is zero for feature {int(np.argmax(scale == 0))}"
                raise DataError(msg, path=path, dataset="Normalisation/norm_scale")
    return AXOL1TLDataset(train, test, signals, scale, bias)


def write_axol1tl(path: str | Path, dataset: AXOL1TLDataset) -> Path:
    """Write an AXOL1TL-style file atomically (DATA as float32 (n, 19, 3))."""
    path = Path(path)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:

        def put(name: str, particles: np.ndarray) -> None:
            validate_particles(particles, path=path, dataset=name)
            f.create_dataset(name, data=particles[..., :3].astype(np.float32), track_times=False)

        put("data/Background_data/Train/DATA", dataset.background_train)
        put("data/Background_data/Test/DATA", dataset.background_test)
        for name, particles in sorted(dataset.signals.items()):
            put(f"data/Signal_data/{name}/DATA", particles)
        if dataset.norm_scale is not None and dataset.norm_bias is not None:
            f.create_dataset("Normalisation/norm_scale", data=np.asarray(dataset.norm_scale), track_times=False)
            f.create_dataset("Normalisation/norm_bias", data=np.asarray(dataset.norm_bias), track_times=False)
    return path

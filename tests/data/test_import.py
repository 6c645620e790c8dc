"""``wnae data import`` / ``export``: your own files into a data directory, and back out."""

from __future__ import annotations

import hashlib
import json

import h5py
import numpy as np
import pytest

from tests.conftest import random_particles, write_toy_data_dir
from tests.data.l1ntuple_files import random_l1_events, write_l1ntuple
from wnae.cli import main
from wnae.data.axol1tl import AXOL1TLDataset, write_axol1tl
from wnae.data.importing import ImportOptions, expand_inputs, export_adc2021, import_sample
from wnae.data.io import EventSet, read_events, write_events
from wnae.data.samples import SampleRole, load_manifest
from wnae.errors import ConfigError, DataError


def _adc2021(path, n, seed, harder=1.0):
    p = random_particles(n, seed=seed)
    p[..., 0] *= harder
    write_events(path, EventSet(p))
    return p


def _opts(**kw):
    base = {"format": "adc2021", "role": SampleRole.BACKGROUND, "name": "bkg", "progress": False}
    return ImportOptions(**{**base, **kw})


def _one_line_error(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


# ------------------------------------------------------------------------------------------ ADC2021 / AXOL1TL


def test_adc2021_files_by_glob_become_one_sample_read_in_chunks_with_their_provenance(tmp_path):
    parts = [_adc2021(tmp_path / "in" / f"part{i}.h5", 130 + i, seed=i) for i in range(3)]
    result = import_sample([str(tmp_path / "in" / "part*.h5")], tmp_path / "data", _opts(chunk_events=50))
    events = read_events(tmp_path / "data" / "bkg.h5")
    np.testing.assert_array_equal(events.particles, np.concatenate(parts))  # file order, every chunk
    assert events.process_label is None  # no labels in the files and none given: none invented
    (row,) = load_manifest(tmp_path / "data")
    assert row == result.info and row.n_events == row.n_generated == 393 and row.process_label == -1
    sources = row.provenance["sources"]
    assert [s["path"] for s in sources] == [str((tmp_path / "in" / f"part{i}.h5").resolve()) for i in range(3)]
    first = tmp_path / "in" / "part0.h5"
    assert sources[0]["bytes"] == first.stat().st_size
    assert sources[0]["sha256"] == hashlib.sha256(first.read_bytes()).hexdigest()
    assert row.provenance["format"] == "adc2021" and row.provenance["dataset"] == "Particles"


def test_axol1tl_arrays_import_by_part_and_a_signal_by_its_name(tmp_path):
    train, test, sig = random_particles(120, seed=1), random_particles(40, seed=2), random_particles(30, seed=3)
    write_axol1tl(tmp_path / "axo.h5", AXOL1TLDataset(train, test, {"Ato4l": sig}))
    data = tmp_path / "data"
    import_sample([tmp_path / "axo.h5"], data, _opts(format="axol1tl", name="zb", role=SampleRole.ZERO_BIAS))
    import_sample(
        [tmp_path / "axo.h5"], data, _opts(format="axol1tl", name="Ato4l", role=SampleRole.SIGNAL, n_generated=100)
    )
    import_sample(
        [tmp_path / "axo.h5"], data, _opts(format="axol1tl", name="test_only", dataset="Background_data/Test")
    )
    np.testing.assert_array_equal(read_events(data / "zb.h5").particles, np.concatenate([train, test]))
    np.testing.assert_array_equal(read_events(data / "Ato4l.h5").particles, sig)
    np.testing.assert_array_equal(read_events(data / "test_only.h5").particles, test)
    rows = {r.name: r for r in load_manifest(data)}
    assert rows["Ato4l"].n_generated == 100 and rows["Ato4l"].role is SampleRole.SIGNAL
    with pytest.raises(DataError, match=r"no dataset 'data/Signal_data/LQ/DATA' in this file \(it has: .*Ato4l"):
        import_sample([tmp_path / "axo.h5"], data, _opts(format="axol1tl", name="LQ", role=SampleRole.SIGNAL))


def test_bad_values_name_the_file_dataset_and_event(tmp_path):
    p = random_particles(200, seed=4)
    p[137, 3, 0] = -5.0  # a negative pT in the second chunk
    write_axol1tl(tmp_path / "axo.h5", AXOL1TLDataset(random_particles(5, seed=5), random_particles(5, seed=6), {}))
    with h5py.File(tmp_path / "axo.h5", "a") as f:
        del f["data/Background_data/Train/DATA"]
        f["data/Background_data/Train/DATA"] = p[..., :3]
    with pytest.raises(DataError, match=r"axo.h5:/data/Background_data/Train/DATA event 137: .*pT"):
        import_sample([tmp_path / "axo.h5"], tmp_path / "data", _opts(format="axol1tl", chunk_events=100))
    assert not (tmp_path / "data" / "bkg.h5").exists() and not (tmp_path / "data" / "manifest.json").exists()
    assert not list((tmp_path / "data").glob(".*tmp"))  # nothing half-written


def test_refusals_before_anything_is_written(tmp_path, capsys):
    data = tmp_path / "data"
    _adc2021(tmp_path / "a.h5", 50, seed=1)
    (tmp_path / "notes.txt").write_text("not an event file\n")
    write_l1ntuple(tmp_path / "n.root", random_l1_events(5, seed=1))
    with pytest.raises(
        DataError, match=r"notes.txt: --format adc2021 reads HDF5 files, but this is neither HDF5 nor ROOT"
    ):
        import_sample([tmp_path / "notes.txt"], data, _opts())
    with pytest.raises(DataError, match=r"n.root: --format adc2021 reads HDF5 files, but this is a ROOT file"):
        import_sample([tmp_path / "n.root"], data, _opts())
    with pytest.raises(DataError, match=r"a.h5: --format l1ntuple reads ROOT files, but this is an HDF5 file"):
        import_sample([tmp_path / "a.h5"], data, _opts(format="l1ntuple"))
    with pytest.raises(DataError, match="the pattern '.*nothing_\\*.h5' matches no file"):
        expand_inputs([str(tmp_path / "nothing_*.h5")])
    write_events(tmp_path / "empty.h5", EventSet(np.zeros((0, 19, 4), np.float32)))
    with pytest.raises(DataError, match="no events in .*empty.h5: nothing to import"):
        import_sample([tmp_path / "empty.h5"], data, _opts())
    with pytest.raises(ConfigError, match="option --name: 'a b' is not a sample name"):
        import_sample([tmp_path / "a.h5"], data, _opts(name="a b"))
    with pytest.raises(ConfigError, match="option --input-rate-khz: only a zero_bias sample"):
        import_sample([tmp_path / "a.h5"], data, _opts(input_rate_khz=100.0))
    assert not data.exists()
    with pytest.raises(SystemExit) as info:  # argparse refuses it, naming the option
        main(
            ["data", "import", "--format", "adc2021", "--name", "x", "--output-dir", str(data), str(tmp_path / "a.h5")]
        )
    assert info.value.code == 2 and "the following arguments are required: --role" in capsys.readouterr().err
    # a name already taken is refused; --replace swaps file and row
    import_sample([tmp_path / "a.h5"], data, _opts())
    before = (data / "bkg.h5").read_bytes()
    err = _one_line_error(
        capsys,
        [
            "data",
            "import",
            "--format",
            "adc2021",
            "--role",
            "background",
            "--name",
            "bkg",
            "--output-dir",
            str(data),
            str(tmp_path / "a.h5"),
        ],
    )
    assert "sample 'bkg' is already in" in err and "--replace" in err
    assert (data / "bkg.h5").read_bytes() == before
    _adc2021(tmp_path / "b.h5", 70, seed=2)
    assert (
        main(
            [
                "data",
                "import",
                "--format",
                "adc2021",
                "--role",
                "background",
                "--name",
                "bkg",
                "--replace",
                "--output-dir",
                str(data),
                str(tmp_path / "b.h5"),
            ]
        )
        == 0
    )
    (row,) = load_manifest(data)
    assert row.n_events == 70 == len(read_events(data / "bkg.h5"))


def test_an_unweighted_zero_bias_cannot_join_a_weighted_one(tmp_path):
    from tests.train.test_training_sample import _weighted_zero_bias_dir

    data = _weighted_zero_bias_dir(tmp_path / "data")
    _adc2021(tmp_path / "zb.h5", 40, seed=1)
    with pytest.raises(DataError, match="has a weighted zero bias .* into a new --output-dir"):
        import_sample([tmp_path / "zb.h5"], data, _opts(role=SampleRole.ZERO_BIAS, name="my_zb"))
    import_sample([tmp_path / "zb.h5"], data, _opts(role=SampleRole.SIGNAL, name="my_signal"))  # other roles may
    assert "my_signal" in {r.name for r in load_manifest(data)}  # and the weighted zero bias still loads


# ------------------------------------------------------------------------------------------ L1 ntuples


def test_l1_ntuples_of_both_layouts_import_with_their_hardware_integers_and_truncation_counted(tmp_path, caplog):
    events = random_l1_events(300, seed=7)
    write_l1ntuple(tmp_path / "split.root", events, layout="split")
    write_l1ntuple(tmp_path / "flat.root", events, layout="flat")
    data = tmp_path / "data"
    result = import_sample([tmp_path / "split.root"], data, _opts(format="l1ntuple", name="split", chunk_events=64))
    import_sample([tmp_path / "flat.root"], data, _opts(format="l1ntuple", name="flat"))
    split = read_events(data / "split.h5", with_hardware=True)
    flat = read_events(data / "flat.h5", with_hardware=True)
    np.testing.assert_array_equal(split.particles, flat.particles)
    np.testing.assert_array_equal(split.hardware, flat.hardware)
    assert len(split) == 300
    filled = split.particles[..., 0] > 0
    assert np.array_equal(filled, split.hardware[..., 0] > 0)  # the integers sit in the physical objects' slots
    np.testing.assert_allclose(split.particles[..., 0][filled], split.hardware[..., 0][filled] / 2.0)  # Et = iEt / 2
    row = load_manifest(data)[0]
    assert row.provenance["trees"] == ["l1UpgradeEmuTree/L1UpgradeTree"]
    assert "jetEt" in row.provenance["branches"] and "bunch crossing 0" in row.provenance["selection"]
    assert row.provenance["layouts"] == ["split"]
    # Poisson(8) jets per event overflow the 10 jet slots in some events: counted and said
    assert result.notes and "jet" in result.notes[0]
    assert row.provenance["notes"] == list(result.notes)
    assert any("jet" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")


@pytest.mark.slow
@pytest.mark.csim
def test_own_data_alone_trains_evaluates_converts_and_simulates(tmp_path, monkeypatch, capsys):
    """A zero bias from L1 ntuples (both layouts), an SM sample and a signal from ADC2021 files: import,
    train two epochs on the zero bias, evaluate, convert, C-simulate, with no generated data at all."""
    monkeypatch.chdir(tmp_path)
    write_l1ntuple(tmp_path / "zb_run_a.root", random_l1_events(2500, seed=1), layout="split")
    write_l1ntuple(
        tmp_path / "zb_run_b.root", random_l1_events(2500, seed=2), layout="flat", tree="l1UpgradeTree/L1UpgradeTree"
    )
    _adc2021(tmp_path / "ttbar.h5", 600, seed=3)
    _adc2021(tmp_path / "signal.h5", 500, seed=4, harder=4.0)
    imports = [
        ["--format", "l1ntuple", "--role", "zero_bias", "--name", "zb", "--input-rate-khz", "28000", "zb_run_*.root"],
        ["--format", "adc2021", "--role", "background", "--name", "ttbar", "--process-label", "2", "ttbar.h5"],
        ["--format", "adc2021", "--role", "signal", "--name", "sig", "--n-generated", "1000", "signal.h5"],
    ]
    for argv in imports:
        assert main(["data", "import", *argv, "--output-dir", "own"]) == 0, capsys.readouterr()
    assert "imported 5000 events from 2 file(s) as sample 'zb'" in capsys.readouterr().out
    assert main(["data", "summary", "own", "--no-plots"]) == 0
    assert "zb" in capsys.readouterr().out
    (tmp_path / "train.yml").write_text(
        "model: ae\nepochs: 2\nbatch_size: 256\narchitecture: {encoder: [4], latent_dim: 2}\n"
    )
    assert (
        main(
            ["train", "--config", "train.yml", "--data-dir", "own", "--name", "mine", "--training-sample", "zero_bias"]
        )
        == 0
    ), capsys.readouterr()
    assert "training_sample: zero_bias" in (tmp_path / "runs" / "mine" / "config.yml").read_text()
    capsys.readouterr()
    (tmp_path / "eval.yml").write_text("plots: false\nworking_points: {Loose: 1000.0, Tight: 100.0}\n")
    assert main(["evaluate", "runs/mine", "--data-dir", "own", "--config", "eval.yml"]) == 0, capsys.readouterr()
    wp = json.loads((tmp_path / "runs" / "mine" / "working_points.json").read_text())
    assert wp["input_rate_khz"] == 28000.0  # the imported zero bias's own rate
    assert wp["n_zero_bias"] == 1000  # only its test split: the run trained on the rest
    metrics = json.loads((tmp_path / "runs" / "mine" / "evaluation" / "metrics.json").read_text())
    assert metrics["signals"]["sig"]["n_generated"] == 1000
    assert metrics["signals"]["sig"]["auc_zero_bias"] > 0.5  # a 4x harder signal stands out
    assert main(["convert", "runs/mine", "--data-dir", "own"]) == 0, capsys.readouterr()
    assert main(["csim", "runs/mine", "--data-dir", "own", "--events", "1000"]) == 0, capsys.readouterr()
    assert "BIT-EXACT" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------ export and back


@pytest.mark.slow
def test_export_and_import_back_gives_the_same_events_and_the_same_trained_weights(tmp_path, capsys):
    from wnae.config import parse_config
    from wnae.models.config import TrainConfig
    from wnae.train.loop import train

    original = write_toy_data_dir(tmp_path / "original", n_background=300, n_zero_bias=200, n_signal=100)
    assert main(["data", "export", str(original), "--output-dir", str(tmp_path / "adc")]) == 0
    listed = json.loads((tmp_path / "adc" / "export.json").read_text())["samples"]
    for entry in listed:  # the commands export.json gives, as a user would run them
        argv = entry["import"].split()[1:]
        argv[-3] = str(tmp_path / "adc" / argv[-3])
        argv[-1] = str(tmp_path / "back")
        assert main(argv) == 0, capsys.readouterr()
    with h5py.File(tmp_path / "adc" / "dy.h5") as f:
        assert sorted(f) == ["Particles", "Particles_Classes", "Particles_Names"]  # the plain ADC2021 layout
    rows = load_manifest(original)
    back = {r.name: r for r in load_manifest(tmp_path / "back")}
    for row in rows:
        np.testing.assert_array_equal(
            read_events(row.path(original)).particles, read_events(back[row.name].path(tmp_path / "back")).particles
        )
        assert (back[row.name].role, back[row.name].n_generated) == (row.role, row.n_generated)
    cfg = parse_config(
        TrainConfig, {"model": "ae", "epochs": 2, "batch_size": 128, "architecture": {"encoder": [8], "latent_dim": 2}}
    )
    runs = [
        train(cfg, data_dir=d, runs_dir=tmp_path / "runs", name=d.name, progress=False).run_dir
        for d in (original, tmp_path / "back")
    ]
    weights = []
    for run in runs:
        with h5py.File(run / "deploy.h5") as f:
            found = {}
            f.visititems(lambda k, o, found=found: found.__setitem__(k, o[()]) if isinstance(o, h5py.Dataset) else None)
            weights.append(found)
    assert weights[0].keys() == weights[1].keys() and weights[0]
    for key in weights[0]:
        np.testing.assert_array_equal(weights[0][key], weights[1][key], err_msg=key)
    with pytest.raises(DataError, match="exists: export into a new directory, or pass --overwrite"):
        export_adc2021(original, tmp_path / "adc")


def test_link_validates_the_whole_file_and_links_it_instead_of_copying(tmp_path):
    p = _adc2021(tmp_path / "big.h5", 120, seed=9)
    result = import_sample([tmp_path / "big.h5"], tmp_path / "data", _opts(link=True, chunk_events=50))
    assert result.path.is_symlink() and result.path.resolve() == (tmp_path / "big.h5").resolve()
    np.testing.assert_array_equal(read_events(result.path).particles, p)
    assert result.info.provenance["linked"] is True and result.info.n_events == 120
    with pytest.raises(ConfigError, match="option --link: only ADC2021 files"):
        import_sample([tmp_path / "big.h5"], tmp_path / "data", _opts(link=True, format="axol1tl", name="x"))
    # replacing a linked sample writes a file of its own and leaves the linked source alone
    _adc2021(tmp_path / "other.h5", 30, seed=10)
    before = (tmp_path / "big.h5").read_bytes()
    import_sample([tmp_path / "other.h5"], tmp_path / "data", _opts(replace=True))
    assert not result.path.is_symlink() and len(read_events(result.path)) == 30
    assert (tmp_path / "big.h5").read_bytes() == before

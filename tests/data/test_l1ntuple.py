from __future__ import annotations

import math

import awkward as ak
import h5py
import numpy as np
import pytest
import uproot

from tests.data.l1ntuple_files import EMU_TREE, UNPACKED_TREE, random_l1_events, write_l1ntuple
from wnae.data.l1ntuple import (
    L1_TREES,
    TruncationTally,
    count_l1ntuple_events,
    detect_layout,
    find_tree,
    iter_l1ntuple,
)
from wnae.data.schema import N_OBJECTS
from wnae.errors import DataError

# slots of the event layout
MET, EG, MU, JET = 0, slice(1, 5), slice(5, 9), slice(9, 19)
TYPES = (  # class id, first slot, slots, members et, eta, phi, iet, ieta, iphi, bx
    (2, 1, 4, ("egEt", "egEta", "egPhi", "egIEt", "egIEta", "egIPhi", "egBx")),
    (3, 5, 4, ("muonEt", "muonEtaAtVtx", "muonPhiAtVtx", "muonIEt", "muonIEtaAtVtx", "muonIPhiAtVtx", "muonBx")),
    (4, 9, 10, ("jetEt", "jetEta", "jetPhi", "jetIEt", "jetIEta", "jetIPhi", "jetBx")),
)


def reference(events: dict[str, ak.Array]) -> tuple[np.ndarray, np.ndarray]:
    """The conversion written as a plain loop over events, straight from the specification."""
    lists = {k: ak.to_list(v) for k, v in events.items()}
    n = len(lists["egEt"])
    particles = np.zeros((n, N_OBJECTS, 4), np.float32)
    hardware = np.zeros((n, N_OBJECTS, 3), np.int32)
    for e in range(n):
        for i, (t, bx) in enumerate(zip(lists["sumType"][e], lists["sumBx"][e], strict=True)):
            if t == 2 and bx == 0:
                particles[e, MET] = (lists["sumEt"][e][i], 0.0, lists["sumPhi"][e][i], 1)
                hardware[e, MET] = (lists["sumIEt"][e][i], 0, lists["sumIPhi"][e][i])
                break
        for cls, start, size, members in TYPES:
            rows = [tuple(lists[m][e][i] for m in members) for i in range(len(lists[members[0]][e]))]
            rows = sorted((r for r in rows if r[6] == 0), key=lambda r: -r[0])[:size]
            for j, r in enumerate(rows):
                particles[e, start + j] = (r[0], r[1], r[2], cls)
                hardware[e, start + j] = r[3:6]
    return particles, hardware


def read_all(paths, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    chunks = list(iter_l1ntuple(paths, **kwargs))
    return (
        np.concatenate([c.particles for c in chunks]),
        np.concatenate([c.hardware for c in chunks]),
    )


def one_event(**members) -> dict[str, list]:
    """One event: empty lists for every member not given, one MET of 10 GeV at BX 0."""
    event = {m: [[]] for _, _, _, ms in TYPES for m in ms}
    event |= {
        "sumType": [[2]], "sumEt": [[10.0]], "sumPhi": [[0.5]], "sumIEt": [[20]], "sumIPhi": [[11]], "sumBx": [[0]]
    }  # fmt: skip
    event |= members
    return event


@pytest.fixture(scope="module")
def events() -> dict[str, ak.Array]:
    return random_l1_events(400, seed=3)


@pytest.fixture(scope="module")
def files(events, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("l1")
    return {layout: write_l1ntuple(tmp / f"{layout}.root", events, layout=layout) for layout in ("split", "flat")}


# ------------------------------------------------------------------------------ conversion


def test_both_layouts_match_the_reference(events, files):
    want_p, want_hw = reference(events)
    for layout, path in files.items():
        with uproot.open(path) as f:
            found, keys = detect_layout(f[EMU_TREE])
        assert found == layout
        assert keys["egEt"] == ("L1Upgrade/egEt" if layout == "split" else "egEt")
        particles, hardware = read_all(path)
        assert particles.dtype == np.float32 and particles.shape == (400, 19, 4)
        assert hardware.dtype == np.int32 and hardware.shape == (400, 19, 3)
        np.testing.assert_array_equal(particles, want_p)
        np.testing.assert_array_equal(hardware, want_hw)
    # the random events exercise what matters: other BXs, missing METs, truncation, muons at the vertex
    assert ak.any(events["jetBx"] != 0)
    assert (want_p[:, MET, 3] == 0).any() and (want_p[:, MET, 3] == 1).any()
    assert ak.any(ak.sum(events["jetBx"] == 0, axis=1) > 10)
    assert not np.allclose(ak.flatten(events["muonEta"]), ak.flatten(events["muonEtaAtVtx"]))


def test_hardware_lands_in_the_slots_of_its_objects(files):
    particles, hardware = read_all(files["split"])
    filled = particles[..., 3] != 0
    objects = filled.copy()
    objects[:, MET] = False
    np.testing.assert_array_equal(hardware[..., 0] / 2, np.where(filled, particles[..., 0], 0))
    calo = np.zeros(N_OBJECTS, bool)
    calo[EG] = calo[JET] = True
    eta_step = np.where(calo, 0.0435, 0.010875)
    np.testing.assert_allclose(np.where(objects, hardware[..., 1] * eta_step, 0), particles[..., 1], atol=1e-5)
    phi_step = np.where(calo | (np.arange(N_OBJECTS) == MET), 2 * math.pi / 144, 2 * math.pi / 576)
    phi = hardware[..., 2] * phi_step
    phi = np.where(phi > math.pi, phi - 2 * math.pi, phi)
    np.testing.assert_allclose(np.where(filled, phi, 0), particles[..., 2], atol=1e-5)
    assert (hardware[~filled] == 0).all()


def test_only_bx0_objects_in_pt_order(tmp_path):
    event = one_event(
        egEt=[[5.0, 80.0, 20.0, 40.0]], egEta=[[0.1, 0.2, 0.3, 0.4]], egPhi=[[1.0, 1.1, 1.2, 1.3]],
        egIEt=[[10, 160, 40, 80]], egIEta=[[2, 4, 6, 8]], egIPhi=[[30, 31, 32, 33]], egBx=[[0, -1, 0, 0]],
        muonEt=[[7.0, 9.0]], muonEtaAtVtx=[[0.5, -0.5]], muonPhiAtVtx=[[2.0, -2.0]],
        muonIEt=[[14, 18]], muonIEtaAtVtx=[[46, -46]], muonIPhiAtVtx=[[183, 392]], muonBx=[[0, 1]],
    )  # fmt: skip
    particles, hardware = read_all(write_l1ntuple(tmp_path / "x.root", event))
    np.testing.assert_array_equal(particles[0, EG, 0], [40.0, 20.0, 5.0, 0.0])  # 80 GeV was BX -1
    np.testing.assert_allclose(particles[0, EG, 1], [0.4, 0.3, 0.1, 0.0])
    np.testing.assert_array_equal(particles[0, EG, 3], [2, 2, 2, 0])
    np.testing.assert_array_equal(hardware[0, EG], [[80, 8, 33], [40, 6, 32], [10, 2, 30], [0, 0, 0]])
    np.testing.assert_allclose(particles[0, MU], [[7.0, 0.5, 2.0, 3]] + [[0, 0, 0, 0]] * 3)
    np.testing.assert_array_equal(hardware[0, MU, 0], [14, 0, 0, 0])
    assert (particles[0, JET] == 0).all()  # no jets at all in the file


def test_met_is_the_missing_et_of_bx0(tmp_path):
    event = {
        "sumType": [[0, 2, 3, 2, 8], [0, 3, 2]],
        "sumEt": [[300.0, 90.0, 50.0, 12.5, 60.0], [200.0, 40.0, 70.0]],
        "sumPhi": [[0.0, 1.0, 2.0, -1.5, 3.0], [0.0, 1.0, 2.0]],
        "sumIEt": [[600, 180, 100, 25, 120], [400, 80, 140]],
        "sumIPhi": [[0, 23, 46, 110, 69], [0, 23, 46]],
        "sumBx": [[0, 1, 0, 0, 0], [0, 0, -1]],
    }
    event = {m: [[], []] for _, _, _, ms in TYPES for m in ms} | event
    particles, hardware = read_all(write_l1ntuple(tmp_path / "x.root", event))
    np.testing.assert_array_equal(particles[0, MET], [12.5, 0.0, -1.5, 1.0])
    np.testing.assert_array_equal(hardware[0, MET], [25, 0, 110])
    assert (particles[1, MET] == 0).all() and (hardware[1, MET] == 0).all()  # no kMissingEt at BX 0


def test_truncation_keeps_the_hardest_and_counts(tmp_path):
    jets = [float(x) for x in range(1, 14)]  # 13 jets at BX 0, 2 more at BX 1
    event = one_event(
        jetEt=[[*jets, 500.0, 600.0]], jetEta=[[0.0] * 15], jetPhi=[[0.0] * 15],
        jetIEt=[[int(2 * x) for x in jets] + [1000, 1200]], jetIEta=[[0] * 15], jetIPhi=[[0] * 15],
        jetBx=[[0] * 13 + [1, 1]],
        egEt=[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]], egEta=[[0.0] * 6], egPhi=[[0.0] * 6],
        egIEt=[[2, 4, 6, 8, 10, 12]], egIEta=[[0] * 6], egIPhi=[[0] * 6], egBx=[[0] * 6],
    )  # fmt: skip
    event = {k: v * 3 for k, v in event.items()}  # three such events
    tally = TruncationTally()
    particles, hardware = read_all(write_l1ntuple(tmp_path / "x.root", event), tally=tally)
    np.testing.assert_array_equal(particles[:, JET, 0], np.tile(np.arange(13.0, 3.0, -1), (3, 1)))
    np.testing.assert_array_equal(hardware[:, JET, 0], np.tile(np.arange(26, 6, -2), (3, 1)))
    np.testing.assert_array_equal(particles[:, EG, 0], np.tile([6.0, 5.0, 4.0, 3.0], (3, 1)))
    assert tally.n_events == 3
    assert tally.events == {"egamma": 3, "muon": 0, "jet": 3}
    assert tally.objects == {"egamma": 6, "muon": 0, "jet": 9}
    message = tally.message()
    assert message is not None
    assert "egamma in 3 of 3 events (6 objects)" in message and "jet in 3 of 3 events (9 objects)" in message
    assert "muon" not in message


def test_chunks_over_several_files_equal_one_read(events, files, tmp_path):
    other = write_l1ntuple(tmp_path / "other.root", random_l1_events(150, seed=4), layout="flat")
    paths = [files["split"], other, files["flat"]]
    whole = [read_all(p, step_events=10_000) for p in paths]
    chunks = list(iter_l1ntuple(paths, step_events=64))
    assert [len(c) for c in chunks] == [64] * 6 + [16] + [64, 64, 22] + [64] * 6 + [16]
    assert [(c.path, c.first_event) for c in chunks[5:9]] == [
        (files["split"], 320), (files["split"], 384), (other, 0), (other, 64)
    ]  # fmt: skip
    np.testing.assert_array_equal(np.concatenate([c.particles for c in chunks]), np.concatenate([w[0] for w in whole]))
    np.testing.assert_array_equal(np.concatenate([c.hardware for c in chunks]), np.concatenate([w[1] for w in whole]))
    assert count_l1ntuple_events(paths) == 950


def test_tree_detection_and_fallback(events, tmp_path):
    small = {k: v[:5] for k, v in events.items()}
    unpacked = write_l1ntuple(tmp_path / "unpacked.root", small, tree=UNPACKED_TREE)
    assert find_tree(unpacked) == UNPACKED_TREE
    assert len(read_all(unpacked)[0]) == 5
    both = tmp_path / "both.root"
    with uproot.recreate(both) as f:  # the emulated tree wins; tree= picks the other
        for name, n in ((UNPACKED_TREE, 3), (EMU_TREE, 5)):
            f.mktree(name, {"egEt": "var * float32"}).extend({"egEt": ak.Array([[1.0]] * n)})
    assert find_tree(both) == EMU_TREE == L1_TREES[0]
    assert find_tree(both, tree=UNPACKED_TREE) == UNPACKED_TREE
    assert count_l1ntuple_events(both) == 5
    assert count_l1ntuple_events(both, tree=UNPACKED_TREE) == 3


def test_zero_events_is_not_an_error(events, tmp_path):
    path = write_l1ntuple(tmp_path / "empty.root", {k: v[:0] for k, v in events.items()})
    assert list(iter_l1ntuple(path)) == []
    assert count_l1ntuple_events(path) == 0


# ---------------------------------------------------------------------------------- errors


def one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def test_missing_file_and_not_root(tmp_path):
    with pytest.raises(DataError) as err:
        list(iter_l1ntuple(tmp_path / "nope.root"))
    assert "nope.root" in one_line(err) and "does not exist" in one_line(err)
    h5 = tmp_path / "events.h5"
    with h5py.File(h5, "w") as f:
        f["Particles"] = np.zeros((2, 19, 4))
    text = tmp_path / "notes.root"
    text.write_text("hello\n")
    for path in (h5, text):
        for call in (find_tree, count_l1ntuple_events, lambda p: list(iter_l1ntuple(p))):
            with pytest.raises(DataError) as err:
                call(path)
            assert str(path) in one_line(err) and "not a ROOT file" in one_line(err)


def test_no_known_tree_lists_the_trees(tmp_path):
    path = tmp_path / "other.root"
    with uproot.recreate(path) as f:
        f.mktree("l1EventTree/L1EventTree", {"run": np.int32}).extend({"run": np.arange(3, dtype=np.int32)})
    with pytest.raises(DataError) as err:
        find_tree(path)
    message = one_line(err)
    assert str(path) in message and "l1EventTree/L1EventTree" in message
    assert all(tree in message for tree in L1_TREES)
    with pytest.raises(DataError, match="no tree l1UpgradeTree/L1UpgradeTree"):
        list(iter_l1ntuple(path, tree=UNPACKED_TREE))


@pytest.mark.parametrize(("layout", "key"), [("split", "L1Upgrade/muonEtaAtVtx"), ("flat", "muonEtaAtVtx")])
def test_missing_branch(events, tmp_path, layout, key):
    small = {k: v[:5] for k, v in events.items() if k != "muonEtaAtVtx"}
    path = write_l1ntuple(tmp_path / "x.root", small, layout=layout)
    with pytest.raises(DataError) as err:
        list(iter_l1ntuple(path))
    message = one_line(err)
    assert str(path) in message and EMU_TREE in message
    assert f"missing branch {key} " in message and f"{layout} layout" in message


def test_count_members_are_optional(events, tmp_path):
    small = {k: v[:20] for k, v in events.items()}
    with_counts = read_all(write_l1ntuple(tmp_path / "a.root", small))
    without = read_all(write_l1ntuple(tmp_path / "b.root", small, counts=False))
    np.testing.assert_array_equal(with_counts[0], without[0])


@pytest.mark.parametrize("layout", ["split", "flat"])
def test_jagged_lengths_must_agree(events, tmp_path, layout):
    small = {k: ak.to_list(v[:30]) for k, v in events.items()}
    small["egEt"][17] = [10.0, 9.0, 8.0]
    small["egEta"][17] = [0.1, 0.2]
    for m in ("egPhi", "egIEt", "egIEta", "egIPhi", "egBx"):
        small[m][17] = [0, 0, 0]
    path = write_l1ntuple(tmp_path / "x.root", small, layout=layout, counts=False)
    with pytest.raises(DataError) as err:
        list(iter_l1ntuple(path, step_events=8))
    message = one_line(err)
    assert str(path) in message and EMU_TREE in message and "event 17" in message
    assert "egEta has 2 entries but egEt has 3" in message


def test_count_member_must_agree(events, tmp_path):
    small = {k: v[:30] for k, v in events.items()}
    small["nJets"] = np.asarray(ak.num(small["jetEt"]), dtype=np.uint16)
    small["nJets"][21] += 1
    path = write_l1ntuple(tmp_path / "x.root", small)
    with pytest.raises(DataError) as err:
        list(iter_l1ntuple(path))
    message = one_line(err)
    assert "L1Upgrade/nJets event 21" in message and "nJets = " in message and "jetEt has" in message


def test_non_finite_values(events, tmp_path):
    small = {k: ak.to_list(v[:30]) for k, v in events.items()}
    event = next(i for i in range(5, 30) if small["jetEta"][i])
    small["jetEta"][event][0] = math.nan
    path = write_l1ntuple(tmp_path / "x.root", small)
    with pytest.raises(DataError) as err:
        list(iter_l1ntuple(path, step_events=4))
    message = one_line(err)
    assert f"{EMU_TREE}/L1Upgrade/jetEta event {event}" in message and "non-finite" in message


def test_values_outside_the_layout(tmp_path):
    event = one_event(
        jetEt=[[50.0]], jetEta=[[7.5]], jetPhi=[[0.0]], jetIEt=[[100]], jetIEta=[[172]], jetIPhi=[[0]], jetBx=[[0]]
    )
    path = write_l1ntuple(tmp_path / "x.root", event)
    with pytest.raises(DataError) as err:
        list(iter_l1ntuple(path))
    message = one_line(err)
    assert str(path) in message and "event 0" in message and "|eta| = 7.5" in message

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import random_particles
from wnae.data.validate import validate_particles
from wnae.errors import DataError


def test_valid_events_pass(particles):
    validate_particles(particles)
    validate_particles(particles[..., :3], with_class=False)


def _break(p: np.ndarray, event: int, slot: int, feature: int, value: float) -> np.ndarray:
    p = p.copy()
    p[event, slot, feature] = value
    return p


@pytest.mark.parametrize(
    ("slot", "feature", "value", "message"),
    [
        (3, 0, np.nan, "non-finite"),
        (3, 2, np.inf, "non-finite"),
        (0, 0, -3.1, r"pT = -3.1 GeV < 0 in slot 0 \(MET\)"),
        (12, 1, -5.5, r"\|eta\| = 5.5 > 5.0 in slot 12 \(jet_3\)"),
        (5, 2, 3.3, r"\|phi\| = 3.3 rad > pi"),
        (1, 3, 3.0, r"class id 3 in slot 1 \(egamma_0\), which holds class 2"),
        (0, 3, 4.0, "class id 4 in slot 0"),
    ],
)
def test_each_problem_is_named(particles, slot, feature, value, message):
    p = particles.copy()
    # make sure the slot is filled so the class check applies to it
    p[42, slot] = [30.0, 0.5 if slot else 0.0, 1.0, [1, 2, 2, 2, 2, 3, 3, 3, 3, *[4] * 10][slot]]
    if slot in range(1, 5):
        p[42, 1:slot] = [40.0, 0.1, 0.1, 2]
    if slot in range(9, 19):
        p[42, 9:slot] = [40.0, 0.1, 0.1, 4]
    bad = _break(p, 42, slot, feature, value)
    with pytest.raises(DataError, match=message) as info:
        validate_particles(bad, path="data/zb.h5", first_event=1000)
    assert str(info.value).startswith("data/zb.h5:/Particles event 1042: ")
    assert info.value.event_index == 1042


def test_wrong_shape():
    with pytest.raises(DataError, match=r"expected shape \(n_events, 19, 4\), got \(10, 18, 4\)"):
        validate_particles(np.zeros((10, 18, 4)))


def test_empty_slot_with_kinematics(particles):
    p = particles.copy()
    p[:, 18] = 0
    p[7, 18, 0] = 5.0  # pT but class 0
    with pytest.raises(DataError, match=r"event 7: empty slot 18 \(jet_9, class 0\)"):
        validate_particles(p)


def test_zero_padding_must_come_last():
    p = random_particles(20, 4)
    p[3, 5:9] = 0
    p[3, 6] = [10.0, 0.1, 0.2, 3]  # muon in slot 6 while slot 5 is empty
    with pytest.raises(DataError, match="event 3: muon slot 6 is filled after empty slot 5"):
        validate_particles(p)


# ------------------------------------------------------------------ physical bounds (issue #14, 2)


def test_pt_above_half_sqrt_s_is_an_error(particles):
    from wnae.data.schema import MAX_PT_GEV, SQRT_S_GEV

    assert SQRT_S_GEV == 13_600.0
    assert MAX_PT_GEV == 6800.0
    p = particles.copy()
    p[42, 0, 0] = MAX_PT_GEV  # the bound itself is allowed
    validate_particles(p)
    p[42, 0, 0] = 1e30
    with pytest.raises(DataError, match=r"event 1042: pT = 1e\+30 GeV > 6800 GeV = sqrt\(s\)/2, .* in slot 0 \(MET\)"):
        validate_particles(p, path="data/zb.h5", first_event=1000)
    p[42, 0, 0] = 6900.0
    validate_particles(p, max_pt_gev=7000.0)  # a file generated at 14 TeV


def test_bound_follows_the_files_sqrt_s():
    from wnae.data.validate import max_pt_gev_for

    assert max_pt_gev_for(None) == 6800.0
    assert max_pt_gev_for({"sqrt_s_gev": 14_000.0}) == 7000.0
    for bad in ("13600", -1.0, float("nan"), True, None):
        assert max_pt_gev_for({"sqrt_s_gev": bad}) == 6800.0


def test_complex_values_are_rejected(particles):
    with pytest.raises(DataError, match="expected real numbers .* got dtype complex64"):
        validate_particles(particles.astype(np.complex64))


def test_empty_events_are_counted():
    from wnae.data.validate import EmptyEventTally, empty_event_mask

    p = random_particles(30, 2)
    p[[4, 17]] = 0
    np.testing.assert_array_equal(np.flatnonzero(empty_event_mask(p)), [4, 17])
    tally = EmptyEventTally()
    tally.update(p[:10], 100)
    tally.update(p[10:], 110)
    assert (tally.n_events, tally.n_empty, tally.first) == (30, 2, 104)
    assert tally.message().startswith("2 of 30 events are empty (no MET, no objects), the first at event 104")
    assert EmptyEventTally().message() is None

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

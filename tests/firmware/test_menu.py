"""Menu thresholds: working points as integer cuts on the score's bits make the same decisions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wnae.errors import FirmwareError, ModelError
from wnae.firmware.menu import (
    MENU_FILE,
    integer_decisions,
    integer_threshold,
    menu_thresholds,
    score_format,
    to_integers,
    write_menu,
)
from wnae.fixed_point.graph import FixedFormat, Op

AXO_SCORE = FixedFormat(False, 14, 4)  # ap_ufixed<18,14>
SIGNED = FixedFormat(True, 2, 5)  # ap_fixed<8,3>


def _doc(*thresholds: float) -> dict:
    return {
        "input_rate_khz": 28608.8,
        "working_points": [
            {
                "name": f"wp{i}",
                "threshold": t,
                "target_rate_khz": 1.0,
                "rate_khz": 1.2,
                "rate_low_khz": 0.8,
                "rate_high_khz": 1.9,
                "resolved": True,
            }
            for i, t in enumerate(thresholds)
        ],
    }


@pytest.mark.parametrize("fmt", [AXO_SCORE, SIGNED], ids=str)
def test_integer_cut_decides_as_the_real_threshold_on_every_value_of_the_type(fmt):
    lo, hi = round(fmt.min_value / fmt.lsb), round(fmt.max_value / fmt.lsb)
    s = np.arange(lo, hi + 1)
    values = s * fmt.lsb
    rng = np.random.default_rng(0)
    on_grid = list(rng.choice(values, 20))
    between = list(rng.uniform(fmt.min_value, fmt.max_value, 50))
    outside = [fmt.min_value - 1.0, fmt.max_value, fmt.max_value + 3.0, -1e9, 1e9, 0.0, -0.0, fmt.lsb / 3]
    for threshold in on_grid + between + outside:
        t = integer_threshold(float(threshold), fmt)
        assert np.array_equal(s > t, values > threshold), threshold
        assert np.array_equal(integer_decisions(values, fmt, t), values > threshold)


def test_axol1tl_score_type_numbers():
    assert str(AXO_SCORE) == "ap_ufixed<18,14>" and AXO_SCORE.lsb == 0.0625
    assert integer_threshold(77.1, AXO_SCORE) == 1233  # 77.1 / 0.0625 = 1233.6
    assert integer_threshold(77.125, AXO_SCORE) == 1234  # on the grid: s > 1234 is score > 77.125
    assert integer_threshold(-5.0, AXO_SCORE) == -1  # below an unsigned score: every event fires
    assert integer_threshold(1e6, AXO_SCORE) == 2**18 - 1  # above its range: none can
    with pytest.raises(FirmwareError, match="not a finite number"):
        integer_threshold(float("nan"), AXO_SCORE)


def test_to_integers_refuses_values_the_type_cannot_hold():
    assert to_integers(np.array([0.0, 0.0625, 16383.9375]), AXO_SCORE).tolist() == [0, 1, 2**18 - 1]
    with pytest.raises(FirmwareError, match=r"score 1: 0\.03 is not a value of ap_ufixed<18,14>"):
        to_integers(np.array([0.0, 0.03]), AXO_SCORE)
    with pytest.raises(FirmwareError, match="score 0"):
        to_integers(np.array([-0.0625]), AXO_SCORE)
    with pytest.raises(FirmwareError, match="score 0"):
        to_integers(np.array([np.nan]), AXO_SCORE)


def test_menu_carries_rates_and_flags_cuts_outside_the_type():
    menu = menu_thresholds(_doc(77.1, -3.0, 20000.0), AXO_SCORE)
    assert (menu.score_type, menu.bits, menu.integer_bits, menu.fractional_bits) == ("ap_ufixed<18,14>", 18, 14, 4)
    assert (menu.int_min, menu.int_max, menu.input_rate_khz) == (0, 2**18 - 1, 28608.8)
    inside, below, above = menu.thresholds
    assert (inside.threshold_int, inside.threshold_value, inside.note) == (1233, 1233 * 0.0625, "")
    assert inside.threshold_geq == 1234  # s >= 1234 <=> s > 1233 (a ">=" menu condition, as CMSSW's)
    assert (inside.rate_khz, inside.rate_low_khz, inside.rate_high_khz, inside.resolved) == (1.2, 0.8, 1.9, True)
    assert below.note == "fires on every event" and below.threshold_int == -1
    assert above.note.startswith("never fires")
    assert menu.fixed_format == AXO_SCORE
    with pytest.raises(FirmwareError, match=r"working_points\[0\] needs a name and a finite threshold"):
        menu_thresholds({"working_points": [{"name": "Tight"}]}, AXO_SCORE)


def test_score_format_is_the_last_quantizer_and_refused_without_one():
    quant = Op("score", "quantize", ["sum"], "QActivation", fmt=AXO_SCORE)
    assert score_format([quant]) == AXO_SCORE
    dense = Op("out", "dense", ["x"], "QDense", activation=SIGNED)
    assert score_format([dense]) == SIGNED
    with pytest.raises(FirmwareError, match="layer 'sum'.*no fixed-point type"):
        score_format([Op("sum", "add", ["a", "b"], "Add")])


def test_write_menu_writes_json_and_names_a_missing_working_points_file(tmp_path):
    wp = tmp_path / "working_points.json"
    wp.write_text(json.dumps(_doc(10.0)))
    menu = write_menu(tmp_path / "project", wp, AXO_SCORE)
    doc = json.loads((tmp_path / "project" / MENU_FILE).read_text())
    assert doc["thresholds"][0]["threshold_int"] == 160 == menu.thresholds[0].threshold_int
    assert doc["score_type"] == "ap_ufixed<18,14>" and doc["source"] == str(wp)
    with pytest.raises(ModelError, match="missing.json"):
        write_menu(tmp_path / "project", tmp_path / "missing.json", AXO_SCORE)

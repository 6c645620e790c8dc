"""The design space: parameter values into a train config, the base's own values, the scan config's checks."""

from __future__ import annotations

import pytest

from wnae.config import parse_config
from wnae.errors import ConfigError
from wnae.scan.config import ParameterSpec, ScanConfig
from wnae.scan.front import choose, pareto_front
from wnae.scan.space import apply_parameters, base_values, candidate_key, check_space, deep_merge, train_config

BASE = {
    "model": "two_stage",
    "epochs": 4,
    "extractor": {"widths": [29], "embedding_dim": 10, "epochs": 2},
    "quant": {"input": {"bits": 14, "integer": 5}, "weight": {"bits": 5, "integer": 1}},
}


def specs(**params):
    return {path.replace("__", "."): ParameterSpec(**spec) for path, spec in params.items()}


def test_parameters_land_at_their_paths_and_validate():
    doc = apply_parameters(
        BASE,
        {
            "extractor.widths.0": 12,
            "quant.input": "ap_fixed<12,4>",
            "quant.layers.ext_dense0.weight": "ap_fixed<4,2>",
            "pruning.sparsity": 0.3,
        },
    )
    cfg = train_config(doc, source="test")
    assert cfg.extractor.widths == [12]
    assert (cfg.quant.input.bits, cfg.quant.input.integer, cfg.quant.input.signed) == (12, 3, True)
    assert cfg.quant.for_layer("ext_dense0")[0].bits == 4
    assert cfg.quant.for_layer("embedding")[0].bits == 5  # the other layers keep the network's format
    assert cfg.pruning.sparsity == 0.3
    assert BASE["extractor"]["widths"] == [29]  # the base is not changed


def test_a_path_outside_the_base_is_named():
    with pytest.raises(ConfigError, match=r"'extractor.widths.3': index 3 is not in the base config's list"):
        apply_parameters(BASE, {"extractor.widths.3": 8})
    with pytest.raises(ConfigError, match="candidate x"):
        train_config(apply_parameters(BASE, {"quant.weight.bits": 1}), source="candidate x")


def test_a_valid_space_passes_the_check():
    check_space(
        BASE,
        specs(
            extractor__widths__0={"low": 4, "high": 32},
            quant__input={"choices": ["ap_fixed<14,5>"]},
            head__latent_dim={"low": 2, "high": 6},
        ),
        {"epochs": 3},
    )


@pytest.mark.parametrize(
    ("space", "fixed", "brief", "message"),
    [
        # a typo in a path: created silently, every candidate would fail
        (
            {"extractor__widthz__0": {"low": 4, "high": 8}},
            {},
            {},
            r"parameter 'extractor.widthz.0': the base config has no list 'extractor.widthz' to index",
        ),
        (
            {"extractor__widht": {"low": 4, "high": 8}},
            {},
            {},
            r"scan.yml: parameters.extractor.widht = 4: unknown key 'extractor.widht'; did you mean 'widths'",
        ),
        (
            {"quant__weigth__bits": {"low": 3, "high": 6}},
            {},
            {},
            r"parameters.quant.weigth.bits = 3: unknown key 'quant.weigth'",
        ),
        # the top of a range that no train config accepts
        (
            {"quant__weight__bits": {"low": 4, "high": 40}},
            {},
            {},
            r"parameters.quant.weight.bits = 40: 'quant.weight.bits'",
        ),
        # a brief schedule with no head epochs (epochs <= extractor.epochs)
        (
            {"extractor__widths__0": {"low": 4, "high": 8}},
            {},
            {"epochs": 2},
            r"scan.yml: base config with brief: .*epochs \(2\) must be larger",
        ),
        # ... or only at one end of a range
        (
            {"extractor__epochs": {"low": 1, "high": 3}},
            {},
            {"epochs": 3},
            r"parameters.extractor.epochs = 3 with brief: .*epochs \(3\) must be larger",
        ),
        # a typo in fixed
        (
            {"extractor__widths__0": {"low": 4, "high": 8}},
            {"extractor": {"widht": 3}},
            {},
            r"scan.yml: base config with fixed: unknown key 'extractor.widht'",
        ),
    ],
)
def test_the_space_is_checked_before_the_first_trial(space, fixed, brief, message):
    with pytest.raises(ConfigError, match=message):
        check_space(deep_merge(BASE, fixed), specs(**space), brief, source="scan.yml")


def test_base_values_read_the_resolved_base_and_layer_fallbacks():
    space = specs(
        extractor__widths__0={"low": 8, "high": 48},
        quant__input={"choices": ["ap_fixed<12,4>", "ap_fixed<14,6>"]},
        quant__layers__ext_dense0__weight__bits={"low": 3, "high": 8},
        head__latent_dim={"low": 2, "high": 6},
    )
    values = base_values(BASE, space)
    assert values == {
        "extractor.widths.0": 29,
        "quant.input": "ap_fixed<14,6>",
        "quant.layers.ext_dense0.weight.bits": 5,  # unset for the layer: quant.weight's
        "head.latent_dim": 4,
    }  # unset in the base: the config's default
    with pytest.raises(ConfigError, match=r"'quant.input': the base design's value .* is not one of the choices"):
        base_values(BASE, specs(quant__input={"choices": ["ap_fixed<12,4>"]}))


def test_equal_values_are_one_design():
    assert candidate_key({"a": 1, "b": "x"}) == candidate_key({"b": "x", "a": 1})
    assert candidate_key({"a": 1}) != candidate_key({"a": 2})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"low": 3}, "both low and high"),
        ({"choices": []}, "choices is empty"),
        ({"choices": [1, 1]}, "repeat"),
        ({"low": 1, "high": 4, "choices": [1]}, "either choices"),
        ({"low": 0.0, "high": 1.0, "log": True}, "log needs low > 0"),
        ({"low": 1, "high": 4, "step": 0}, "step must be positive"),
    ],
)
def test_bad_parameter_specs_are_named(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(ScanConfig, {"base": "b.yml", "parameters": {"quant.weight.bits": spec}}, source="scan.yml")


def test_scan_config_needs_parameters_and_distinct_seeds():
    with pytest.raises(ConfigError, match="parameters is empty"):
        parse_config(ScanConfig, {"base": "b.yml", "parameters": {}})
    with pytest.raises(ConfigError, match="seeds must be distinct"):
        parse_config(ScanConfig, {"base": "b.yml", "seeds": [0, 0], "parameters": {"a": {"low": 1, "high": 2}}})


def test_front_and_choice():
    points = [("a", 0.20, 1000.0), ("b", 0.25, 3000.0), ("c", 0.22, 3500.0), ("d", 0.26, 9000.0)]
    assert pareto_front(points) == ["a", "b", "d"]
    records = {
        "a": {"objective": 0.20, "lut": 1000, "within_budget": True},
        "b": {"objective": 0.25, "lut": 3000, "within_budget": True},
        "d": {"objective": 0.26, "lut": 9000, "within_budget": False},
    }
    assert choose(["a", "b", "d"], records, tolerance=0.0) == "b"  # d is over the budget
    assert choose(["a", "b", "d"], records, tolerance=0.05) == "a"  # the smallest within 5 points of b
    assert choose(["d"], records, tolerance=0.0) is None

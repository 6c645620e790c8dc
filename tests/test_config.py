from __future__ import annotations

import pytest
from pydantic import Field, model_validator

from wnae.config import StrictModel, dump_config, load_config, parse_config
from wnae.errors import ConfigError


class Inner(StrictModel):
    bits: int = Field(8, ge=2, le=32)
    integer: int = 0


class Outer(StrictModel):
    name: str = "x"
    learning_rate: float = Field(1e-3, gt=0)
    quant: Inner = Inner()


def test_load_and_dump_round_trip(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("name: run\nquant:\n  bits: 6\n")
    cfg = load_config(path, Outer)
    assert cfg.quant.bits == 6
    (tmp_path / "d.yml").write_text(dump_config(cfg))
    assert load_config(tmp_path / "d.yml", Outer) == cfg


def test_unknown_key_suggests_closest(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("learning_rte: 0.1\n")
    with pytest.raises(ConfigError, match=r"c.yml: unknown key 'learning_rte'; did you mean 'learning_rate'\?"):
        load_config(path, Outer)
    with pytest.raises(ConfigError, match=r"unknown key 'quant.bitz'; did you mean 'bits'\?"):
        parse_config(Outer, {"quant": {"bitz": 3}})


def test_bad_values_and_files(tmp_path):
    with pytest.raises(ConfigError, match=r"'quant.bits': Input should be greater than or equal to 2 \(got 1\)"):
        parse_config(Outer, {"quant": {"bits": 1}})
    with pytest.raises(ConfigError, match="'learning_rate'"):
        parse_config(Outer, {"learning_rate": -1})
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "none.yml", Outer)
    (tmp_path / "bad.yml").write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "bad.yml", Outer)
    (tmp_path / "list.yml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(tmp_path / "list.yml", Outer)


def test_overrides_and_frozen(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("name: a\n")
    cfg = load_config(path, Outer, overrides={"name": "b"})
    assert cfg.name == "b"
    with pytest.raises(ValueError, match="frozen"):
        cfg.name = "c"


class Typed(StrictModel):
    epochs: int = Field(30, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    plots: bool = True
    widths: list[int] = Field(default_factory=lambda: [8])
    rates: dict[str, float] = Field(default_factory=dict)
    cap: int | None = None
    quant: Inner = Inner()


def test_empty_file_is_an_error_naming_it(tmp_path):
    for name, text in (("empty.yml", ""), ("comments.yml", "# only a comment\n")):
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(
            ConfigError, match=rf"{name}: the config file is empty \(write '{{}}' to take every default\)"
        ):
            load_config(path, Outer)
    (tmp_path / "defaults.yml").write_text("{}\n")  # an explicit empty mapping takes every default
    assert load_config(tmp_path / "defaults.yml", Outer) == Outer()
    assert parse_config(Outer, None) == parse_config(Outer, {}) == Outer()  # mappings built in code, not files


def test_duplicate_key_names_the_key_and_the_lines(tmp_path):
    path = tmp_path / "dup.yml"
    path.write_text("name: a\nlearning_rate: 0.1\nname: b\n")
    with pytest.raises(ConfigError, match=r"dup.yml: line 3: duplicate key 'name' \(first given on line 1\)"):
        load_config(path, Outer)
    path.write_text("quant:\n  bits: 4\n  integer: 1\n  bits: 6\n")
    with pytest.raises(ConfigError, match=r"dup.yml: line 4: duplicate key 'quant.bits' \(first given on line 2\)"):
        load_config(path, Outer)
    path.write_text("quant: {bits: 4, bits: 6}\n")
    with pytest.raises(ConfigError, match=r"line 1: duplicate key 'quant.bits'"):
        load_config(path, Outer)


def test_merge_keys_may_be_overridden(tmp_path):
    path = tmp_path / "merge.yml"
    path.write_text("quant: &q {bits: 4, integer: 1}\nname: x\n")
    assert load_config(path, Outer).quant.bits == 4
    path = tmp_path / "merge2.yml"
    path.write_text("name: &n run\nquant:\n  <<: {bits: 4, integer: 1}\n  bits: 6\n")
    cfg = load_config(path, Outer)
    assert (cfg.name, cfg.quant.bits, cfg.quant.integer) == ("run", 6, 1)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("epochs: true\n", r"'epochs': Input should be a valid integer \(got True\)"),
        ("epochs: '30'\n", r"'epochs': Input should be a valid integer \(got '30'\)"),
        ("epochs: 30.5\n", r"'epochs': Input should be a valid integer"),
        ("learning_rate: '1e-3'\n", r"'learning_rate': Input should be a valid number \(got '1e-3'\)"),
        ("learning_rate: false\n", r"'learning_rate': Input should be a valid number \(got False\)"),
        ("plots: 1\n", r"'plots': Input should be a valid boolean \(got 1\)"),
        ("plots: 'yes'\n", r"'plots': Input should be a valid boolean \(got 'yes'\)"),
        ("widths: [8, true]\n", r"'widths.1': Input should be a valid integer \(got True\)"),
        ("rates: {a: '5'}\n", r"'rates.a': Input should be a valid number \(got '5'\)"),
        ("cap: true\n", r"'cap': Input should be a valid integer \(got True\)"),
        ("quant: {bits: true}\n", r"'quant.bits': Input should be a valid integer \(got True\)"),
    ],
)
def test_bool_is_no_int_and_string_is_no_number(tmp_path, text, match):
    path = tmp_path / "t.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        load_config(path, Typed)
    assert str(info.value).startswith(f"{path}: ")


def test_exponent_floats_without_a_dot_are_numbers(tmp_path):
    path = tmp_path / "t.yml"
    path.write_text("learning_rate: 1e-3\nrates: {a: 5E4, b: -2.5e+1}\n")  # YAML 1.1 would read strings
    cfg = load_config(path, Typed)
    assert cfg.learning_rate == 1e-3 and cfg.rates == {"a": 5e4, "b": -25.0}
    path.write_text("name: 1e3x\n")
    assert load_config(path, Outer).name == "1e3x"


def test_yaml_ints_and_numpy_scalars_still_validate(tmp_path):
    import numpy as np

    path = tmp_path / "t.yml"
    path.write_text("learning_rate: 1\nrates: {a: 5}\nepochs: 3\nplots: no\n")
    cfg = load_config(path, Typed)
    assert cfg.learning_rate == 1.0 and isinstance(cfg.learning_rate, float)
    assert cfg.rates == {"a": 5.0} and cfg.epochs == 3 and cfg.plots is False
    cfg = Typed(epochs=np.int64(4), learning_rate=np.float32(0.5), plots=np.bool_(False), widths=[np.int32(2)])
    assert (cfg.epochs, cfg.learning_rate, cfg.plots, cfg.widths) == (4, 0.5, False, [2])
    assert type(cfg.epochs) is int and type(cfg.plots) is bool
    with pytest.raises(ValueError, match="valid integer"):
        Typed(epochs=np.float64(4.0))
    with pytest.raises(ValueError, match="valid integer"):
        Typed(epochs=True)  # strict in Python too, not only from YAML


def test_override_errors_name_the_option_not_the_file(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("epochs: 10\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, Typed, overrides={"epochs": 0})
    assert str(info.value) == "option --epochs (epochs=0): Input should be greater than or equal to 1"
    with pytest.raises(ConfigError) as info:
        load_config(
            path, Typed, overrides={"learning_rate": -5.0, "plots": "x"}, override_source={"plots": "--no-plots"}
        )
    assert str(info.value) == (
        "option --learning-rate (learning_rate=-5.0): Input should be greater than 0; "
        "option --no-plots (plots='x'): Input should be a valid boolean"
    )
    path.write_text("epochs: 0\nlearning_rate: 0.1\n")  # the file's own mistake still names the file
    with pytest.raises(ConfigError) as info:
        load_config(path, Typed, overrides={"learning_rate": -1.0})
    assert str(info.value) == (
        f"{path}: 'epochs': Input should be greater than or equal to 1 (got 0); "
        "option --learning-rate (learning_rate=-1.0): Input should be greater than 0"
    )
    with pytest.raises(
        ConfigError, match=r"^option --learnig-rate: unknown key 'learnig_rate'; did you mean 'learning_rate'\?$"
    ):
        load_config(path, Typed, overrides={"learnig_rate": 1.0, "epochs": 1})
    assert load_config(path, Typed, overrides={"epochs": 2}).epochs == 2  # an override replaces a bad file value


def test_parse_config_options_match_nested_keys():
    with pytest.raises(ConfigError) as info:
        parse_config(
            Typed,
            {"quant": {"bits": 1}, "widths": [0, "x"]},
            source="gen.yml",
            options={"quant.*": "--bits", "widths": "--widths"},
        )
    assert str(info.value) == (
        "option --widths (widths.1='x'): Input should be a valid integer; "
        "option --bits (quant.bits=1): Input should be greater than or equal to 2"
    )


class Checked(StrictModel):
    low: float = 0.0
    high: float = 1.0

    @model_validator(mode="after")
    def _ordered(self) -> Checked:
        if self.low >= self.high:
            msg = f"low {self.low:g} must be below high {self.high:g}"
            raise ValueError(msg)
        return self


def test_check_across_keys_names_the_file_and_the_options(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("high: 2.0\n")
    with pytest.raises(ConfigError, match=r"c.yml with --low: '<top level>': Value error, low 3 must be below high 2"):
        load_config(path, Checked, overrides={"low": 3.0})

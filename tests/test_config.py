from __future__ import annotations

import pytest
from pydantic import Field

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

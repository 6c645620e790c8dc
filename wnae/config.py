"""Typed configuration: YAML becomes validated, frozen pydantic objects here and nowhere else.

Every stage (generation, training, firmware) declares its config as a :class:`StrictModel`
subclass. :func:`load_config` reads a YAML file and validates it; any problem — unknown key (with
the closest valid key suggested), wrong type, value out of range, unreadable YAML — is a
:class:`~wnae.errors.ConfigError` naming the file and the key.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from wnae.errors import ConfigError

__all__ = ["StrictModel", "dump_config", "load_config", "parse_config"]

M = TypeVar("M", bound="StrictModel")


class StrictModel(BaseModel):
    """Base of all configs: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Valid keys of the (sub)model that holds the key at ``loc`` (best effort)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(part)
        if field is None:
            return []
        current = field.annotation
        args = getattr(current, "__args__", ())
        for arg in args:  # Optional[Sub] / Sub | None
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                current = arg
                break
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _format_errors(err: ValidationError, model: type[BaseModel], source: str) -> str:
    lines = []
    for e in err.errors():
        loc = tuple(e["loc"])
        key = ".".join(str(p) for p in loc) or "<top level>"
        if e["type"] == "extra_forbidden":
            options = _fields_at(model, loc)
            close = difflib.get_close_matches(str(loc[-1]), options, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else (f"; valid keys: {', '.join(options)}" if options else "")
            lines.append(f"unknown key '{key}'{hint}")
        else:
            value = e.get("input")
            shown = "" if isinstance(value, dict | list) else f" (got {value!r})"
            lines.append(f"'{key}': {e['msg']}{shown}")
    return f"{source}: " + "; ".join(lines)


def parse_config(model: type[M], data: Mapping[str, Any] | None, *, source: str = "config") -> M:
    """Validate a mapping against ``model``; errors become :class:`ConfigError`."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        msg = f"{source}: expected a mapping of keys to values, got {type(data).__name__}"
        raise ConfigError(msg)
    try:
        return model.model_validate(dict(data))
    except ValidationError as err:
        raise ConfigError(_format_errors(err, model, source)) from err


def load_config(path: str | Path, model: type[M], *, overrides: Mapping[str, Any] | None = None) -> M:
    """Read the YAML file at ``path`` and validate it as ``model``.

    Args:
        path: YAML file.
        model: the :class:`StrictModel` subclass to validate against.
        overrides: top-level keys that replace the file's values (e.g. from the command line).
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError as err:
        msg = f"{path}: config file not found"
        raise ConfigError(msg) from err
    except OSError as err:
        msg = f"{path}: cannot read config ({err})"
        raise ConfigError(msg) from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        msg = f"{path}: not valid YAML ({err})"
        raise ConfigError(msg) from err
    if data is not None and not isinstance(data, Mapping):
        msg = f"{path}: expected a mapping of keys to values, got {type(data).__name__}"
        raise ConfigError(msg)
    merged = {**(data or {}), **(overrides or {})}
    return parse_config(model, merged, source=str(path))


def dump_config(config: BaseModel) -> str:
    """The config as YAML (the resolved config that a run directory stores)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)

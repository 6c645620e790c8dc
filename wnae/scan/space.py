"""The design space: a candidate's parameter values → its train config, and the base design's own values.

A parameter is a dotted path into the train config's nested mapping; an integer component indexes a
list (``extractor.widths.0``). A string value ``"ap_fixed<W,I>"`` / ``"ap_ufixed<W,I>"`` at a quantizer's
path becomes that format (``{bits: W, integer: I − 1, signed: true}`` for ``ap_fixed``), so that one
dimension can move width and integer bits together (the input width, whose fractional bits the
fixed-point normalisation fixes).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from wnae.config import parse_config
from wnae.errors import ConfigError

if TYPE_CHECKING:
    from wnae.models.config import TrainConfig

__all__ = [
    "apply_parameters",
    "base_values",
    "candidate_key",
    "check_space",
    "deep_merge",
    "format_value",
    "train_config",
]


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``update`` merged in: nested mappings merge key by key, anything else is replaced.

    Example:
        >>> deep_merge({"a": {"x": 1, "y": 2}, "b": [1]}, {"a": {"y": 3}, "b": [2]})
        {'a': {'x': 1, 'y': 3}, 'b': [2]}
    """
    out = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def format_value(value: Any) -> Any:
    """A parameter value as it goes into the config: ``"ap_fixed<12,4>"`` → its QuantSpec mapping.

    Example:
        >>> format_value("ap_fixed<14,6>"), format_value("ap_ufixed<10,6>"), format_value(5)
        ({'bits': 14, 'integer': 5, 'signed': True}, {'bits': 10, 'integer': 6, 'signed': False}, 5)
    """
    if isinstance(value, str) and value.replace(" ", "").startswith(("ap_fixed<", "ap_ufixed<")):
        from wnae.fixed_point.ap_types import parse_ap_type

        t = parse_ap_type(value)
        return {"bits": t.total_bits, "integer": t.integer_bits - int(t.signed), "signed": t.signed}
    return value


def _parts(path: str) -> list[str | int]:
    return [int(p) if p.isdigit() else p for p in path.split(".")]


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    node: Any = doc
    parts = _parts(path)
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                msg = f"parameter {path!r}: index {part} is not in the base config's list ({node!r})"
                raise ConfigError(msg)
            node = node[part]
            continue
        if not isinstance(node, dict):
            msg = f"parameter {path!r}: {part!r} is not a key of a mapping in the base config"
            raise ConfigError(msg)
        if node.get(part) is None:
            if isinstance(nxt, int):  # nothing to index: an index into a list the base config does not have
                where = ".".join(str(p) for p in parts[: i + 1])
                msg = f"parameter {path!r}: the base config has no list {where!r} to index (a typo in the path?)"
                raise ConfigError(msg)
            node[part] = {}
        node = node[part]
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            msg = f"parameter {path!r}: index {last} is not in the base config's list ({node!r})"
            raise ConfigError(msg)
        node[last] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        msg = f"parameter {path!r}: the base config has no mapping at {path.rsplit('.', 1)[0]!r}"
        raise ConfigError(msg)


def _get(doc: Any, path: str) -> Any:
    node = doc
    for part in _parts(path):
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def apply_parameters(doc: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """``doc`` (a train config mapping) with every parameter set at its path."""
    out = copy.deepcopy(dict(doc))
    for path, value in params.items():
        _set(out, path, format_value(value))
    return out


def train_config(doc: Mapping[str, Any], *, source: str) -> TrainConfig:
    """Validate a candidate's train config mapping; a bad combination is a :class:`ConfigError` naming ``source``."""
    from wnae.models.config import TrainConfig

    return parse_config(TrainConfig, doc, source=source)


def _ends(spec: Any) -> list[Any]:
    """The values of a parameter that bound what a candidate can get: its choices, or its range's ends."""
    return list(spec.choices) if spec.choices is not None else list(dict.fromkeys([spec.low, spec.high]))


def check_space(
    base: Mapping[str, Any], specs: Mapping[str, Any], brief: Mapping[str, Any], *, source: str = "scan config"
) -> None:
    """Check, before the first trial, that the scan can train its candidates and its chosen design.

    Validated through the train config: the base with ``fixed`` (``base``), the base with ``brief``
    (the candidates' schedule), and every parameter at each of its choices or at both ends of its
    range, the others at the base's values, with ``brief`` (a candidate) and without (the chosen
    design). A parameter path that is not a key of the train config (a typo) is an unknown key there,
    not a key created silently that would then fail every candidate.

    Raises:
        ConfigError: naming ``source``, the part of the scan (``fixed``, ``brief``, ``parameters.<path>``
            with its value) and the train config key.
    """
    train_config(base, source=f"{source}: base config with fixed")
    train_config(deep_merge(base, brief), source=f"{source}: base config with brief")
    for path, spec in specs.items():
        for value in _ends(spec):
            doc = apply_parameters(base, {path: value})
            train_config(doc, source=f"{source}: parameters.{path} = {value!r}")
            if brief:
                train_config(deep_merge(doc, brief), source=f"{source}: parameters.{path} = {value!r} with brief")


def base_values(doc: Mapping[str, Any], specs: Mapping[str, Any]) -> dict[str, Any]:
    """The base design's value of every parameter, checked to lie in the parameter's range.

    A quantizer format given as ``"ap_fixed<W,I>"`` choices is matched by its mapping. A parameter the
    base config leaves unset takes the config's default (validated through the TrainConfig), and the
    value of ``quant.layers.<name>.weight`` falls back to ``quant.weight`` — the format that layer has.

    Raises:
        ConfigError: a base value outside a parameter's range or choices (the base would not be a
            point of the space it is compared in).
    """
    resolved = train_config(doc, source="base config").model_dump(mode="json")
    out: dict[str, Any] = {}
    for path, spec in specs.items():
        value = _get(resolved, path)
        if value is None:
            value = _layer_default(resolved, path)
        if spec.choices is not None:
            matches = [c for c in spec.choices if format_value(c) == value or c == value]
            if not matches:
                msg = (
                    f"parameter {path!r}: the base design's value {value!r} is not one of the choices {spec.choices}; "
                    "add it, or set baseline: false"
                )
                raise ConfigError(msg)
            out[path] = matches[0]
            continue
        if not isinstance(value, int | float) or isinstance(value, bool) or not spec.low <= value <= spec.high:
            msg = (
                f"parameter {path!r}: the base design's value {value!r} is outside [{spec.low}, {spec.high}]; "
                "widen the range, or set baseline: false"
            )
            raise ConfigError(msg)
        out[path] = int(value) if spec.is_int else float(value)
    return out


def _layer_default(resolved: Mapping[str, Any], path: str) -> Any:
    """``quant.layers.<layer>.<kind>[.<key>]`` unset: the network-wide ``quant.<kind>[.<key>]``."""
    parts = path.split(".")
    if len(parts) >= 4 and parts[:2] == ["quant", "layers"]:
        return _get(resolved, ".".join(["quant", *parts[3:]]))
    return None


def candidate_key(params: Mapping[str, Any]) -> str:
    """A short stable hash of a candidate's parameter values (two candidates with equal values are one design)."""
    text = json.dumps({k: params[k] for k in sorted(params)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]

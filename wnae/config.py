"""Typed configuration: YAML becomes validated, frozen pydantic objects here and nowhere else.

Every stage (generation, training, firmware) declares its config as a :class:`StrictModel`
subclass. :func:`load_config` reads a YAML file and validates it; any problem — unknown key (with
the closest valid key suggested), a key given twice, an empty file, wrong type, value out of range,
unreadable YAML — is a :class:`~wnae.errors.ConfigError` naming the file and the key. A value that
came from the command line (``overrides``) is reported as that option's, not the file's.

Types are strict for numbers and booleans: ``epochs: true`` or ``epochs: "30"`` are errors, not 1
and 30; a float field takes an integer (``learning_rate: 1``), an integer field no float.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, ValidationError
from pydantic_core import core_schema

from wnae.errors import ConfigError

__all__ = ["StrictModel", "dump_config", "load_config", "parse_config"]

M = TypeVar("M", bound="StrictModel")


def _plain_scalar(value: Any) -> Any:
    """A NumPy scalar as the Python ``bool``/``int``/``float`` it holds; anything else unchanged."""
    dtype = getattr(value, "dtype", None)
    if dtype is not None and getattr(value, "ndim", None) == 0 and getattr(dtype, "kind", "") in "biuf":
        return value.item()
    return value


#: Keys of a core schema that hold values (defaults, literals, enum members), not schemas.
_NOT_SCHEMAS = frozenset({"default", "expected", "members", "metadata", "serialization"})


def _strict_scalars(schema: Any) -> Any:
    """``schema`` with every int, float and bool schema in it strict (walks the nested schemas).

    NumPy scalars still validate as the Python number they hold (``np.int64(3)`` is an int).
    """
    if type(schema) in (list, tuple):
        return type(schema)(_strict_scalars(s) for s in schema)
    if type(schema) is not dict:
        return schema
    out = {k: v if k in _NOT_SCHEMAS else _strict_scalars(v) for k, v in schema.items()}
    if out.get("type") == "union":  # keep the member names of error locations ('n_components.int')
        out["choices"] = [
            (new, old["type"]) if type(old) is dict and old.get("type") in ("int", "float", "bool") else new
            for old, new in zip(schema["choices"], out["choices"], strict=True)
        ]
    if out.get("type") in ("int", "float", "bool"):
        out["strict"] = True
        return core_schema.no_info_before_validator_function(_plain_scalar, out)
    return out


class StrictModel(BaseModel):
    """Base of all configs: unknown keys are errors, instances are immutable, numbers are numbers.

    Integer, float and boolean fields (also inside lists, tuples, dicts and unions) are strict: a bool
    is not an int, a string is not a number, an int is not a bool. A float field accepts an int.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return _strict_scalars(handler(source))


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


def _option_for(loc: tuple[Any, ...], options: Mapping[str, str]) -> str | None:
    """The command-line option that set the value at ``loc``, if any."""
    if not loc:
        return None
    dotted = ".".join(str(p) for p in loc)
    for pattern, option in options.items():
        if any(fnmatch.fnmatchcase(dotted, p) for p in (pattern, f"{pattern}.*")):
            return option
    return None


def _format_errors(
    err: ValidationError, model: type[BaseModel], source: str, options: Mapping[str, str] | None = None
) -> str:
    options = options or {}
    in_source, from_options = [], []
    for e in err.errors():
        loc = tuple(e["loc"])
        key = ".".join(str(p) for p in loc) or "<top level>"
        option = _option_for(loc, options)
        if e["type"] == "extra_forbidden":
            fields = _fields_at(model, loc)
            close = difflib.get_close_matches(str(loc[-1]), fields, n=1)
            hint = (
                f"; did you mean '{close[0]}'?" if close else (f"; valid keys: {', '.join(fields)}" if fields else "")
            )
            problem = f"unknown key '{key}'{hint}"
            if option is None:
                in_source.append(problem)
            else:
                from_options.append(f"option {option}: {problem}")
            continue
        value = e.get("input")
        if option is None:
            shown = "" if isinstance(value, dict | list) else f" (got {value!r})"
            in_source.append(f"'{key}': {e['msg']}{shown}")
        else:
            shown = f"'{key}'" if isinstance(value, dict | list) else f"{key}={value!r}"
            from_options.append(f"option {option} ({shown}): {e['msg']}")
    parts = []
    if in_source:
        where = source
        if options and any(not e["loc"] for e in err.errors()):  # a check across keys, some set by options
            where = f"{source} with {', '.join(dict.fromkeys(options.values()))}"
        parts.append(f"{where}: " + "; ".join(in_source))
    return "; ".join(parts + from_options)


def parse_config(
    model: type[M],
    data: Mapping[str, Any] | None,
    *,
    source: str = "config",
    options: Mapping[str, str] | None = None,
) -> M:
    """Validate a mapping against ``model``; errors become :class:`ConfigError`.

    Args:
        model: the :class:`StrictModel` subclass to validate against.
        data: the keys and values (``None`` is the empty mapping: every default).
        source: where ``data`` came from, named in errors (the file).
        options: dotted key, or a pattern such as ``samples.*.n_events``, → the command-line
            option that set it. An invalid value there is reported as that option's
            (``option --epochs (epochs=0): Input should be greater than or equal to 1``), not
            as the source's.
    """
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        msg = f"{source}: expected a mapping of keys to values, got {type(data).__name__}"
        raise ConfigError(msg)
    try:
        return model.model_validate(dict(data))
    except ValidationError as err:
        raise ConfigError(_format_errors(err, model, source, options)) from err


def _check_unique_keys(
    loader: yaml.SafeLoader, node: yaml.Node, path: Path, where: tuple[str, ...], visited: set[int]
) -> None:
    """Raise :class:`ConfigError` for the first key given twice in one mapping (YAML keeps the last)."""
    if id(node) in visited:  # an alias of a node already checked
        return
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # '<<: *base': merged keys may be overridden
                _check_unique_keys(loader, value_node, path, where, visited)
                continue
            key: Any = key_node.value
            if isinstance(key_node, yaml.ScalarNode):
                key = loader.construct_object(key_node)
            name = ".".join((*where, str(key)))
            line = key_node.start_mark.line + 1
            try:
                if key in first_line:
                    msg = f"{path}: line {line}: duplicate key '{name}' (first given on line {first_line[key]})"
                    raise ConfigError(msg)
                first_line[key] = line
            except TypeError:  # an unhashable key: the constructor reports it
                pass
            _check_unique_keys(loader, value_node, path, (*where, str(key)), visited)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_unique_keys(loader, item, path, (*where, str(i)), visited)


class _ConfigLoader(yaml.SafeLoader):
    """PyYAML's safe loader that also reads ``1e-3`` and ``5E4`` as floats (YAML 1.2; YAML 1.1 wants ``1.0e-3``).

    Types are strict, so without this a learning rate written ``1e-3`` would be the string '1e-3'.
    """


_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def _read_yaml(text: str, path: Path) -> Any:
    """The single YAML document in ``text`` (``None`` when it holds none), rejecting duplicate keys."""
    loader = _ConfigLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_unique_keys(loader, node, path, (), set())
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_config(
    path: str | Path,
    model: type[M],
    *,
    overrides: Mapping[str, Any] | None = None,
    override_source: Mapping[str, str] | None = None,
) -> M:
    """Read the YAML file at ``path`` and validate it as ``model``.

    An empty file (or one of comments only) is an error: write ``{}`` to take every default. A key
    given twice in one mapping is an error naming the key and its line.

    Args:
        path: YAML file.
        model: the :class:`StrictModel` subclass to validate against.
        overrides: top-level keys that replace the file's values (e.g. from the command line).
        override_source: key of ``overrides`` → the command-line option that set it, named in the
            error when its value is invalid (default ``--<key with - for _>``: ``epochs`` →
            ``--epochs``), e.g. ``{"plots": "--no-plots"}``.
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
        data = _read_yaml(text, path)
    except yaml.YAMLError as err:
        msg = f"{path}: not valid YAML ({err})"
        raise ConfigError(msg) from err
    if data is None:
        msg = f"{path}: the config file is empty (write '{{}}' to take every default)"
        raise ConfigError(msg)
    if not isinstance(data, Mapping):
        msg = f"{path}: expected a mapping of keys to values, got {type(data).__name__}"
        raise ConfigError(msg)
    overrides = dict(overrides or {})
    names = dict(override_source or {})
    options = {key: names.get(key) or "--" + key.replace("_", "-") for key in overrides}
    return parse_config(model, {**data, **overrides}, source=str(path), options=options)


def dump_config(config: BaseModel) -> str:
    """The config as YAML (the resolved config that a run directory stores)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)

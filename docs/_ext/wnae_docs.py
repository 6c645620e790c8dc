"""Local Sphinx directives: the reference pages are generated from the code at build time.

``.. wnae-cli::`` prints the real ``--help`` of every ``wnae`` command and sub-command, from
:func:`wnae.cli.build_parser` (the parser ``python -m wnae`` uses), so the page cannot drift from
the program. ``.. wnae-config:: module.Class`` renders a table of every key of a config class
(nested configs as dotted keys) with its type, default and description, read from the pydantic
fields.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import types
import typing
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

HELP_WIDTH = "100"


def _walk(parser: argparse.ArgumentParser, prog: str) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(prog, parser)]
    for action in parser._actions:  # argparse has no public accessor for sub-parsers
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _walk(sub, f"{prog} {name}")
    return found


class CliHelp(SphinxDirective):
    """Every command's ``--help``, one section each, generated from the real parser."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from wnae.cli import build_parser

        old = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = HELP_WIDTH  # argparse wraps at $COLUMNS: a fixed width, the same page anywhere
        try:
            commands = _walk(build_parser(), "wnae")
            out: list[nodes.Node] = []
            for prog, parser in commands:
                section_id = nodes.make_id(prog)
                section = nodes.section(ids=[section_id], names=[nodes.fully_normalize_name(prog)])
                section += nodes.title(text=prog)
                text = parser.format_help()
                block = nodes.literal_block(text, text)
                block["language"] = "text"
                section += block
                self.state.document.note_implicit_target(section, section)
                out.append(section)
            return out
        finally:
            if old is None:
                del os.environ["COLUMNS"]
            else:
                os.environ["COLUMNS"] = old


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(annotation))
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{args}]" if args else name
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation).replace("typing.", ""))


def _constraints(field: Any) -> str:
    parts = []
    for meta in field.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"), ("min_length", "min length"),
                           ("max_length", "max length"), ("pattern", "pattern")):
            value = getattr(meta, attr, None)
            if value is not None:
                parts.append(f"{sign} {value}")
    return ", ".join(parts)


def _model_of(annotation: Any) -> type | None:
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _rows(model: type, prefix: str) -> list[tuple[str, str, str, str]]:
    from pydantic_core import PydanticUndefined

    rows = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        nested = _model_of(field.annotation)
        if nested is not None:
            rows.append((key, nested.__name__, "(section)", (nested.__doc__ or "").strip().split("\n\n")[0]))
            rows += _rows(nested, key + ".")
            continue
        if field.default is not PydanticUndefined:
            default = repr(field.default)
        elif field.default_factory is not None:
            default = repr(field.default_factory())
        else:
            default = "(required)"
        desc = field.description or ""
        limits = _constraints(field)
        if limits:
            desc = f"{desc} ({limits})" if desc else f"({limits})"
        rows.append((key, _type_name(field.annotation), default, " ".join(desc.split())))
    return rows


class ConfigTable(SphinxDirective):
    """A table of a pydantic config class's keys: key, type, default, description."""

    required_arguments = 1
    option_spec = {"prefix": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        module_name, _, class_name = self.arguments[0].rpartition(".")
        model = getattr(importlib.import_module(module_name), class_name)
        rows = _rows(model, self.options.get("prefix", ""))
        table = nodes.table(classes=["wnae-config"])
        group = nodes.tgroup(cols=4)
        table += group
        for width in (25, 20, 15, 40):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        group += head
        body = nodes.tbody()
        group += body

        def row(cells: tuple[str, ...], parent: nodes.Element, code: tuple[bool, ...]) -> None:
            r = nodes.row()
            for text, literal in zip(cells, code, strict=True):
                entry = nodes.entry()
                para = nodes.paragraph()
                para += nodes.literal(text, text) if literal and text else nodes.Text(text)
                entry += para
                r += entry
            parent += r

        row(("key", "type", "default", "description"), head, (False,) * 4)
        for cells in rows:
            row(cells, body, (True, True, True, False))
        return [table]


_CODE = re.compile(r"(:[a-z:]+:`[^`]*`|`+[^`]*`+)")
_BARS = re.compile(r"(?<![\\|])\|([^|\s][^|]*?)\|(?![|_])")


def _escape_bars(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """``|η|`` in a docstring means an absolute value, not an rST substitution: escape the bars.

    Text inside backticks (literals, roles such as ``:math:``) is left as it is.
    """
    for i, line in enumerate(lines):
        bare = line.strip()
        if "|" not in line or bare.startswith("+") or (bare.startswith("|") and bare.endswith("|") and len(bare) > 1
                                                       and bare.count("|") > 2):
            continue  # a table row
        parts = _CODE.split(line)
        lines[i] = "".join(part if _CODE.fullmatch(part) else _BARS.sub(r"\\|\1\\|", part) for part in parts)


def setup(app: Any) -> dict[str, Any]:
    app.connect("autodoc-process-docstring", _escape_bars)
    app.add_directive("wnae-cli", CliHelp)
    app.add_directive("wnae-config", ConfigTable)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

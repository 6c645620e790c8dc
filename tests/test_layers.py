"""The package's layers hold: every import, at module level or inside a function, goes down.

The order is the one the design page draws (``docs/design.md``, "Layers"); a new subpackage must be
placed in :data:`LAYERS` before it can import anything.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "wnae"

#: Rank of each top-level module or subpackage of ``wnae``; an import must go to a lower rank (or stay
#: inside its own subpackage). Units of the same rank are siblings and may not import each other.
LAYERS: dict[str, int] = {
    "wnae": 0,
    "errors": 0,  # the package root (its version), the error types
    "_io": 1,
    "_random": 1,
    "_dask": 1,
    "config": 1,  # atomic files, seeds, Dask, typed YAML configs
    "data": 2,
    "fixed_point": 2,  # events and samples; exact ap_fixed arithmetic
    "models": 3,  # QKeras models, their configs, run files
    "train": 4,  # the training loop
    "evaluate": 5,  # scores, rates, working points, reports
    "firmware": 6,
    "hlt": 6,  # hls4ml/RTL/CMSSW; the HLT stage
    "scan": 7,  # the design scan (trains, evaluates, synthesises)
    "commands": 8,  # one module per command
    "cli": 9,
    "__main__": 10,  # the argument parser, ``python -m wnae``
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _unit(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "wnae":
        return None
    return parts[1] if len(parts) > 1 else "wnae"


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, imported names, line) of every import in ``path``, function-level ones included."""
    me = _module_name(path)
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = me.split(".") if path.name == "__init__.py" else me.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.append((module, [alias.name for alias in node.names], node.lineno))
    return out


def _edges() -> dict[tuple[str, str], list[str]]:
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        src = _unit(_module_name(path))
        for module, names, line in _imports(path):
            targets = [module] if module != "wnae" else [f"wnae.{n}" for n in names]
            for target in targets:
                dst = _unit(target)
                if dst is not None and dst != src:
                    edges[(src, dst)].append(f"{path.relative_to(PACKAGE.parent)}:{line}")
    return edges


def test_every_unit_has_a_layer() -> None:
    units = {_unit(_module_name(p)) for p in PACKAGE.rglob("*.py")}
    assert units <= set(LAYERS), (
        f"place these in LAYERS (tests/test_layers.py) and docs/design.md: {units - set(LAYERS)}"
    )


def test_every_import_goes_down() -> None:
    up = [
        f"{src} (layer {LAYERS[src]}) imports {dst} (layer {LAYERS[dst]}): {', '.join(where[:3])}"
        for (src, dst), where in sorted(_edges().items())
        if dst in LAYERS and src in LAYERS and LAYERS[dst] >= LAYERS[src]
    ]
    assert not up, "imports against the layer order:\n" + "\n".join(up)


def test_no_module_imports_another_modules_private_names() -> None:
    private = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for module, names, line in _imports(path):
            hidden = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if module.startswith("wnae") and hidden:
                private.append(f"{path.relative_to(PACKAGE.parent)}:{line} takes {', '.join(hidden)} from {module}")
    assert not private, "\n".join(private)


@pytest.mark.parametrize(
    ("bad", "check"),
    [
        ("def f():\n    from wnae.cli import main\n", test_every_import_goes_down),
        ("from wnae.errors import _hidden\n", test_no_module_imports_another_modules_private_names),
    ],
)
def test_the_checks_see_function_level_and_private_imports(tmp_path, monkeypatch, bad, check) -> None:
    """The checks fail on an upward import inside a function, and on a private name taken from another module."""
    fake = tmp_path / "wnae"
    (fake / "data").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "data" / "__init__.py").write_text(bad)
    monkeypatch.setitem(globals(), "PACKAGE", fake)
    with pytest.raises(AssertionError, match="data"):
        check()

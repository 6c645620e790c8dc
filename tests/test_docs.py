"""The README and the release files: every relative link resolves, one version source, no tracker words."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

import wnae

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _relative_links(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # links inside code blocks are not links
    return [link for link in LINK.findall(text) if not re.match(r"^[a-z]+:|^#", link)]


@pytest.mark.parametrize("name", ["README.md", "CONTRIBUTING.md", "docs/getting-started.md"])
def test_relative_links_resolve(name: str) -> None:
    source = ROOT / name
    missing = [link for link in _relative_links(source) if not (source.parent / link.split("#")[0]).exists()]
    assert missing == []


def test_readme_is_short() -> None:
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 250


def test_release_files_exist() -> None:
    for name in ("LICENSE", "CHANGELOG.md", "CITATION.cff", "CONTRIBUTING.md"):
        assert (ROOT / name).is_file(), name


def test_one_version_source() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert wnae.__version__ == version("wnae") == pyproject["project"]["version"]
    assert f"## [{wnae.__version__}]" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"version: {wnae.__version__}" in (ROOT / "CITATION.cff").read_text(encoding="utf-8")


def test_no_tracker_words_in_user_docs() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    pages = [p for p in pages if "_build" not in p.parts]
    found = [
        f"{p.relative_to(ROOT)}: {m.group(0)}"
        for p in pages
        for m in re.finditer(r"\b(issue|stop) #?\d+", p.read_text(encoding="utf-8"), flags=re.IGNORECASE)
    ]
    assert found == []

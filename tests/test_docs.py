"""The README stays short and the documentation site stays whole.

The strict site build itself (every link between pages resolves) runs in the test command
(``scripts/test.sh``); these checks cover what that build cannot see.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from geo_api.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MKDOCS = ROOT / "mkdocs.yml"
HOOK = DOCS / "hooks" / "config_reference.py"
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def load_hook():
    spec = importlib.util.spec_from_file_location("config_reference_hook", HOOK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mkdocs_config() -> dict:
    # mkdocs.yml is plain YAML (no !!python tags), so the safe loader reads it
    return yaml.safe_load(MKDOCS.read_text())


def nav_pages(nav) -> list[str]:
    """Every page path named in a mkdocs nav, at any depth."""
    out: list[str] = []
    for item in nav:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            for value in item.values():
                out += nav_pages(value) if isinstance(value, list) else [value]
    return out


def test_readme_is_short():
    n = len(README.read_text().splitlines())
    assert n <= 150, f"README.md has {n} lines; move detail into docs/ (at most 150)"


def test_readme_has_the_two_commands_and_the_urls():
    text = README.read_text()
    assert "./scripts/run.sh" in text and "./scripts/test.sh" in text
    assert "http://127.0.0.1:8000/" in text and "http://127.0.0.1:8000/docs" in text
    assert "mkdocs serve" in text and "mkdocs build" in text


def test_readme_links_stay_inside_the_repository_and_exist():
    links = [target for target in LINK.findall(README.read_text())
             if not target.startswith(("http://", "https://", "mailto:", "#"))]
    assert links, "the README should link to the documentation pages"
    for target in links:
        path = target.split("#", 1)[0]
        assert not path.startswith(("/", "..")), f"README links outside the repository: {target}"
        resolved = (ROOT / path).resolve()
        assert resolved.is_relative_to(ROOT), f"README links outside the repository: {target}"
        assert resolved.exists(), f"README links to a missing file: {target}"


def test_every_docs_page_is_in_the_nav():
    config = mkdocs_config()
    in_nav = set(nav_pages(config["nav"]))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages - in_nav == set(), f"pages missing from the mkdocs nav: {pages - in_nav}"
    assert in_nav - pages == set(), f"nav entries without a page: {in_nav - pages}"


def test_site_works_offline():
    config = mkdocs_config()
    assert config["theme"]["name"] == "material"
    assert config["theme"]["font"] is False, "web fonts would be fetched from Google"
    assert "docs/hooks/config_reference.py" in config["hooks"]


def test_test_command_builds_the_docs_strictly():
    script = (ROOT / "scripts" / "test.sh").read_text()
    line = next(x for x in script.splitlines() if "mkdocs build" in x)
    assert "--strict" in line
    # --quiet raises mkdocs' log level above WARNING, so --strict would count nothing
    assert "--quiet" not in line and " -q " not in f"{line} "


def test_configuration_reference_lists_every_setting():
    hook = load_hook()
    page = (DOCS / "operations" / "configuration.md").read_text()
    assert hook.PLACEHOLDER in page
    table = hook.config_reference(Settings)
    rows = [line for line in table.splitlines() if line.startswith("| `GEO_API_")]
    named = [re.match(r"\| `(GEO_API_[A-Z0-9_]+)`", line).group(1) for line in rows]
    expected = [f"GEO_API_{name.upper()}" for name in Settings.model_fields]
    assert named == expected
    for line in rows:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        assert len(cells) == 4 and all(cells), f"incomplete row: {line}"


def test_configuration_reference_replaces_the_placeholder_in_the_page():
    hook = load_hook()
    page = (DOCS / "operations" / "configuration.md").read_text()
    out = hook.on_page_markdown(page, page=None, config=None, files=None)
    assert hook.PLACEHOLDER not in out
    assert "`GEO_API_DISCLOSURE_K`" in out
    assert hook.on_page_markdown("no placeholder", None, None, None) == "no placeholder"


@pytest.mark.parametrize("field", ["default", "no_description", "commented", "docstring"])
def test_configuration_reference_falls_back_for_undocumented_fields(field):
    """A field added without a description still appears, with its comment or docstring."""
    from pydantic import Field
    from pydantic_settings import BaseSettings, SettingsConfigDict

    class Example(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="GEO_API_")

        default: int = Field(3, ge=1, description="Described")
        no_description: str | None = None
        # --- a heading (README "somewhere") ---
        commented: bool = False  # what the comment says
        docstring: float = 1.5
        """What the docstring says."""

    rows = {r["name"]: r for r in load_hook().rows(Example)}
    expected = {
        "default": ("GEO_API_DEFAULT", "int; ≥ 1", "`3`", "Described", "General"),
        "no_description": ("GEO_API_NO_DESCRIPTION", "str (optional)", "*(unset)*", "",
                           "General"),
        "commented": ("GEO_API_COMMENTED", "bool", "`false`", "what the comment says",
                      "A heading"),
        "docstring": ("GEO_API_DOCSTRING", "float", "`1.5`", "What the docstring says.",
                      "A heading"),
    }[field]
    row = rows[field]
    assert (row["env"], row["type"], row["default"], row["description"],
            row["section"]) == expected
    if field == "no_description":
        assert load_hook().UNDOCUMENTED in load_hook().config_reference(Example)

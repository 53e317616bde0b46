"""The four floors of HOUSE_STYLE: imports only point down, and the core stays pure.

analysis (1, pure) <- data (2) <- services (3) <- web (4). ``crs``, ``settings``,
``errors`` and ``deadline`` sit at the package root and may be imported by any floor (they
import no floor themselves); ``__main__`` is the command line on top of everything.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "geo_api"
FLOORS = {"analysis": 1, "data": 2, "services": 3, "web": 4}
ROOT_MODULES = {"crs", "settings", "errors", "deadline", "__init__"}
IMPURE = ("fastapi", "starlette", "pydantic", "pydantic_settings", "duckdb", "folium", "uvicorn")


def floor_of(module: str) -> int | None:
    """Floor of a ``geo_api.*`` module name; 0 for the shared root modules."""
    parts = module.split(".")
    if parts[0] != "geo_api":
        return None
    if len(parts) == 1 or parts[1] in ROOT_MODULES:
        return 0
    if parts[1] == "__main__":
        return 5
    return FLOORS.get(parts[1])


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, including lazy ones inside functions."""
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from geo_api.services import hotspots` imports geo_api.services.hotspots
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    return ".".join(rel.parts)


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_lives_on_a_floor():
    homeless = [module_name(p) for p in SOURCES if floor_of(module_name(p)) is None]
    assert homeless == [], f"modules outside analysis/data/services/web and the root: {homeless}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_imports_only_point_down(path):
    here = floor_of(module_name(path))
    upward = []
    for line, target in imports(path):
        there = floor_of(target)
        if there is not None and there > here and not (here == 0 and there == 0):
            upward.append(f"line {line}: {target} (floor {there})")
    assert upward == [], f"{module_name(path)} (floor {here}) imports up: {upward}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "analysis").rglob("*.py")),
                         ids=lambda p: module_name(p))
def test_analysis_is_pure(path):
    bad = [f"line {line}: {t}" for line, t in imports(path) if t.split(".")[0] in IMPURE]
    assert bad == [], f"{module_name(path)} must not depend on web/store libraries: {bad}"


def test_the_check_catches_an_upward_import(tmp_path):
    """The checker itself: an analysis module importing a service is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from geo_api.services import hotspots\n")
    found = [t for _, t in imports(bad) if floor_of(t) > FLOORS["analysis"]]
    assert found == ["geo_api.services.hotspots"]


ROUTERS = sorted((PACKAGE / "web" / "api").glob("routes*.py"))


def router_imports(path: Path) -> list[str]:
    """The other routers (``web/api/routes*.py``) a module imports from, with their lines."""
    routers = {module_name(p) for p in ROUTERS if p != path}
    return [f"line {line}: {target}" for line, target in sorted(imports(path))
            if any(target == r or target.startswith(r + ".") for r in routers)]


@pytest.mark.parametrize("path", ROUTERS, ids=lambda p: module_name(p))
def test_routers_do_not_import_each_other(path):
    """What more than one router uses lives in ``web/api/shared.py``, not in a router."""
    assert router_imports(path) == [], f"{module_name(path)} imports another router"


def test_the_check_catches_a_router_importing_a_router(tmp_path):
    bad = tmp_path / "routes_bad.py"
    bad.write_text("from geo_api.web.api.shared import HTML_200\n"
                   "def f():\n    from geo_api.web.api.routes_pages import page_controls\n"
                   "from geo_api.web.api import routes_tiles\n")
    assert router_imports(bad) == ["line 3: geo_api.web.api.routes_pages.page_controls",
                                   "line 4: geo_api.web.api.routes_tiles"]


# --- imports at the top: ruff (PLC0415) refuses new in-function imports in the package ------
def ruff_codes(source: str, filename: str) -> set[str]:
    """The rule codes ruff reports for ``source`` as if it were the project file
    ``filename`` (the project's configuration: pyproject.toml)."""
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "json",
         "--stdin-filename", filename, "-"],
        input=source, capture_output=True, text=True, cwd=PACKAGE.parent, check=False)
    return {d["code"] for d in json.loads(out.stdout)}


IN_FUNCTION = "def f():\n    import json\n\n    return json.dumps(1)\n"


def test_ruff_refuses_an_import_inside_a_function_in_the_package():
    assert "PLC0415" in ruff_codes(IN_FUNCTION, "geo_api/services/example.py")
    lazy = IN_FUNCTION.replace("import json\n", "import json  # noqa: PLC0415 - lazy: heavy\n")
    assert "PLC0415" not in ruff_codes(lazy, "geo_api/services/example.py")


def test_the_allow_list_is_tests_benchmarks_scripts_and_the_cli():
    for name in ("tests/test_example.py", "benchmarks/bench_example.py",
                 "scripts/example.py", "geo_api/__main__.py"):
        assert "PLC0415" not in ruff_codes(IN_FUNCTION, name), name


def test_the_test_command_type_checks_the_package():
    script = (PACKAGE.parent / "scripts" / "test.sh").read_text()
    assert "python -m mypy" in script
    assert 'files = ["geo_api"]' in (PACKAGE.parent / "pyproject.toml").read_text()

#!/usr/bin/env bash
# Test command: install with dev extras, lint, and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
ensure_venv "[dev]"
# Browser tests need Debian's Chromium (no browser download at run time); the OGC API tests
# use GDAL's ogrinfo/ogr2ogr (Debian's gdal-bin) as a real client; the store contract tests
# start a throwaway PostgreSQL + PostGIS cluster themselves (as the postgres user).
have_pg() { ls /usr/lib/postgresql/*/bin/initdb /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; }
if { ! command -v chromium || ! command -v chromedriver || ! command -v ogr2ogr || ! have_pg; } \
    >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && apt-get install -y -qq chromium chromium-driver gdal-bin postgresql \
    postgis >/dev/null
fi
python -m ruff check geo_api tests benchmarks scripts
# geo_api/, with the pydantic plugin (pyproject.toml [tool.mypy]). Its cache is kept outside
# the clone, so a fresh clone checks only what changed (22 s cold, 2 s warm); mypy checks
# each cached module against its source, so a stale entry is never trusted.
export MYPY_CACHE_DIR="${MYPY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/geo_api/mypy}"
python -m mypy
# The documentation site, built strictly so that a broken link between pages fails the test
# command. Not --quiet: it hides the warnings that --strict counts, so broken links would pass.
docs_site="$(mktemp -d)"
NO_MKDOCS_2_WARNING=1 python -m mkdocs build --strict --site-dir "$docs_site"
rm -rf "$docs_site"
# pytest-xdist: one worker per core (at most 4: a worker peaks at ~3 GB of memory), tests
# sharing a browser or a costly fixture on one worker (tests/conftest.py)
exec python -m pytest -n auto --maxprocesses=4 --dist loadgroup "$@"

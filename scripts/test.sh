#!/usr/bin/env bash
# Test command: install with dev extras, lint, and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
ensure_venv "[dev]"
python -m ruff check geo_api tests benchmarks
exec python -m pytest "$@"

#!/usr/bin/env bash
# Test command: install with dev extras and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
ensure_venv "[dev]"
exec python -m pytest "$@"

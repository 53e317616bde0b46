#!/usr/bin/env bash
# Longer schema fuzzing run (Schemathesis, all checks but positive-data acceptance).
# GEO_API_FUZZ_EXAMPLES examples per operation (default 300: ~11,000 cases over 37
# operations; about an hour on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
ensure_venv "[dev]"
GEO_API_FUZZ_EXAMPLES="${GEO_API_FUZZ_EXAMPLES:-300}" exec python -m pytest -q -p no:cacheprovider \
  tests/test_fuzz.py "$@"

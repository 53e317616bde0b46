#!/usr/bin/env bash
# Run command: install, load the shipped demo data into the embedded store, serve on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
ensure_venv ""
PORT="${GEO_API_PORT:-8000}"
geo_api load-demo
echo "Open http://127.0.0.1:${PORT}/ (maps for everyone) — API docs: http://127.0.0.1:${PORT}/docs"
exec geo_api serve --host 127.0.0.1 --port "${PORT}"

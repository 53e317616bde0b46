# Shared by run.sh and test.sh: create .venv and install the project (idempotent, quick when done).
ensure_venv() {
  local extras="$1"
  if ! command -v python3 >/dev/null; then
    echo "python3 is required; installing via apt-get" >&2
    apt-get update -qq && apt-get install -y -qq python3 python3-venv python3-pip
  fi
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  # shellcheck disable=SC1091
  . .venv/bin/activate
  local stamp=".venv/.installed${extras}"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements.lock -nt "$stamp" ]; then
    # requirements.lock pins every dependency to the versions the suite passed with
    python -m pip install -q -c requirements.lock pip
    python -m pip install -q -c requirements.lock -e ".${extras}"
    touch "$stamp"
  fi
}

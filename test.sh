#!/usr/bin/env bash
# Set up and run the whole test suite (real DuckDB, real PostgreSQL on 127.0.0.1:5432, moto S3
# server, a fake Socrata server, Debian's chromium for browser tests). Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
exec .venv/bin/python -m pytest tests "$@"

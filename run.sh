#!/usr/bin/env bash
# Set up, load the bundled real sample into the embedded DuckDB warehouse (only if it is empty),
# and start the dashboard. Needs Python 3.11+ and no network beyond PyPI for the first install.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
.venv/bin/python -m pipeline backfill --source sample --if-empty
exec .venv/bin/python -m streamlit run streamlit_app.py --server.headless true --browser.gatherUsageStats false "$@"

#!/usr/bin/env bash
# Set up, load the bundled real sample into the embedded DuckDB warehouse (only if it is empty),
# and start the dashboard. Needs Python 3.11+ and no network beyond PyPI for the first install.
set -euo pipefail
cd "$(dirname "$0")"
bash deploy/install.sh requirements.lock   # exact versions + hashes; uv, or pip if uv can't be had
.venv/bin/python -m pipeline backfill --source sample --if-empty
exec .venv/bin/python -m streamlit run streamlit_app.py --server.headless true --server.address 127.0.0.1 \
    --browser.gatherUsageStats false "$@"

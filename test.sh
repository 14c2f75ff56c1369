#!/usr/bin/env bash
# Set up and run the whole test suite (real DuckDB, real PostgreSQL on 127.0.0.1:5432, moto S3
# server, a fake Socrata server, Debian's chromium for browser tests). Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
bash deploy/install.sh requirements-dev.lock   # exact versions + hashes; uv, or pip if uv can't be had
exec .venv/bin/python -m pytest tests "$@"

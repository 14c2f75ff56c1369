#!/usr/bin/env bash
# Set up and run the whole test suite (real DuckDB, real PostgreSQL on 127.0.0.1:5432, moto S3
# server, a fake Socrata server, Debian's chromium for browser tests). Extra args go to pytest.
#
# Two runs: the fast tier first (`-m core`, tests/conftest.py CORE_TESTS: every rule, about two
# minutes), so a broken rule fails in minutes; then the rest (`-m "not core"`: browser, crash
# matrix, load paths, benchmarks-as-tests). A `-m EXPR` among the extra args narrows both runs.
# Each run prints its 25 slowest tests and the seconds per test file.
set -euo pipefail
cd "$(dirname "$0")"
bash deploy/install.sh requirements-dev.lock   # exact versions + hashes; uv, or pip if uv can't be had

mark=""
args=()
while (($#)); do
    case "$1" in
        -m) mark="$2"; shift 2 ;;
        -m*) mark="${1#-m}"; shift ;;
        *) args+=("$1"); shift ;;
    esac
done
core="core${mark:+ and ($mark)}"
rest="not core${mark:+ and ($mark)}"

.venv/bin/python -m pytest tests -m "$core" --durations=25 ${args[@]+"${args[@]}"}
status=0
.venv/bin/python -m pytest tests -m "$rest" --durations=25 ${args[@]+"${args[@]}"} || status=$?
# pytest exits 5 when a marker expression selects nothing (e.g. -m core narrowed to the core):
# that is not a failure of the run.
if [ "$status" -eq 5 ]; then status=0; fi
exit "$status"

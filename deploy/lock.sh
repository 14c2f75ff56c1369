#!/usr/bin/env bash
# Refresh the lock files from the version ranges in requirements.txt and requirements-dev.txt:
#   bash deploy/lock.sh             # add/remove what the .txt files changed, keep every other pin
#   bash deploy/lock.sh --upgrade   # move every pin to the newest release its range allows
# Then run `bash test.sh` and commit the .txt and .lock files together. One set of versions serves
# Python 3.11+ on Linux and macOS (--universal, fewest versions); the runtime lock is the dev lock
# minus the test tools, so what the tests passed with is exactly what run.sh and servers install.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install.sh deploy/uv.lock  # .venv with uv in it, whichever way install.sh gets there
compile() {
    .venv/bin/uv pip compile --quiet --system-certs --universal --python-version 3.11 --fork-strategy fewest \
        --generate-hashes --custom-compile-command "bash deploy/lock.sh" "$@"
}
compile "$@" requirements-dev.txt -o requirements-dev.lock
compile "$@" requirements.txt -c requirements-dev.lock -o requirements.lock
printf 'uv\n' | compile "$@" - -o deploy/uv.lock
echo "lock files refreshed: requirements.lock requirements-dev.lock deploy/uv.lock" >&2

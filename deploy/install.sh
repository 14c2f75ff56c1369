#!/usr/bin/env bash
# Install a lock file (exact versions + sha256 hashes) into ./.venv, creating it if needed.
#   bash deploy/install.sh requirements.lock       # runtime (run.sh, servers)
#   bash deploy/install.sh requirements-dev.lock   # runtime + tests (test.sh, CI)
# uv does the install (seconds instead of a minute); it is bootstrapped into the venv with pip from
# the package registry, itself pinned and hashed (deploy/uv.lock). When uv can't be had (no wheel for
# this platform, registry blocked for it) or fails, pip installs the same lock with --require-hashes.
# uv trusts the system certificate store (--system-certs), as pip does through its configuration.
# INSTALL_WITH=pip forces that fallback. PYTHON picks the interpreter for a new venv (3.11+).
# Both write the packages' bytecode at install (uv: --compile-bytecode; pip does it by default), and
# the project's own code is compiled too (compileall): a service user cannot write into the venv or
# /opt (the dashboard's unit has ProtectSystem=strict) and PYTHONDONTWRITEBYTECODE may be set, so
# without it every process compiles what it imports from source again: ~1.8 s of CPU of a daily run
# (~600 modules, BENCHMARKS.md "h22-daily"), ~3 s before the dashboard's first page (~1,400, "h22-cold").
set -euo pipefail
cd "$(dirname "$0")/.."
lock="${1:?usage: deploy/install.sh requirements.lock|requirements-dev.lock}"
[ -f "$lock" ] || { echo "install: no such lock file: $lock" >&2; exit 2; }
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip_install() { .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@"; }
# uv and pip compile only what they install: a venv made before (an upgrade in place) keeps its
# packages without bytecode. So the whole venv is compiled once per lock (a stamp names the lock's
# hash; ~35 s the first time on 2 cores, then nothing), and the project's own code on every run.
compile_bytecode() {
    local stamp
    stamp=".venv/.bytecode-$(sha256sum "$lock" | cut -c1-16)"
    if [ ! -e "$stamp" ]; then
        .venv/bin/python -m compileall -qq -j 0 .venv/lib || true  # a package's broken test file is not ours
        touch "$stamp"
    fi
    .venv/bin/python -m compileall -q dashboard pipeline
}

if [ "${INSTALL_WITH:-uv}" != pip ] && { [ -x .venv/bin/uv ] ||
        pip_install --only-binary :all: --require-hashes -r deploy/uv.lock; }; then
    if .venv/bin/uv pip install --quiet --system-certs --compile-bytecode --python .venv/bin/python \
            --require-hashes -r "$lock"; then
        compile_bytecode
        exit 0
    fi
    echo "install: uv failed; installing $lock with pip instead" >&2
elif [ "${INSTALL_WITH:-uv}" != pip ]; then
    echo "install: uv could not be installed; installing $lock with pip instead" >&2
fi
pip_install --require-hashes -r "$lock"
compile_bytecode

#!/usr/bin/env bash
# Bootstrap opskit on this machine: .venv with the pinned requirements, then a Chromium for Playwright
# and the fonts that CJK text and emoji need. Idempotent, and fast when nothing changed: the venv is
# reinstalled only when requirements*.txt change (their hash is kept in .venv/.requirements.sha256).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.requirements.sha256

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "error: opskit needs Python 3.11 or newer; '$PYTHON' is $("$PYTHON" --version 2>&1)." >&2
    echo "       Install it, or run: make test PYTHON=/path/to/python3.11" >&2
    exit 2
fi

want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
    echo "bootstrap: installing Python packages into $VENV (requirements changed or first run)"
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
    echo "$want" > "$STAMP"
fi

exec "$VENV/bin/python" -m opskit.cli.bootstrap "$@"

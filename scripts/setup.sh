#!/usr/bin/env bash
# Prepare a checkout: a virtual environment in .venv with the project installed (editable,
# with the test extra) and the translations compiled. Safe to run again: it only does what
# is missing or out of date.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '==> %s\n' "$*"; }

# Python 3.11 or newer: the first interpreter on PATH that is recent enough.
find_python() {
    local candidate
    for candidate in ${PYTHON:-} python3 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

if [ ! -x .venv/bin/python ]; then
    python=$(find_python) || {
        echo "Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11 to choose one)." >&2
        exit 1
    }
    say "Creating the virtual environment .venv with $("$python" --version)"
    if ! "$python" -m venv .venv; then
        rm -rf .venv
        echo "Could not create a virtual environment. On Debian/Ubuntu: apt-get install python3-venv" >&2
        exit 1
    fi
fi

# Reinstall only when the package metadata changed (the install is editable, so code
# changes need nothing).
stamp=.venv/.xinfang-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -x .venv/bin/xinfang ]; then
    say "Installing xinfang-records and its test tools into .venv"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
    printf '%s\n' "$want" >"$stamp"
fi

if [ -f app/translations/build.py ]; then
    .venv/bin/python -m app.translations.build
fi

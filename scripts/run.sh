#!/usr/bin/env bash
# Run Xinfang Records on this machine: set up, create a demo instance the first time
# (./instance, or $XINFANG_HOME), and serve it on http://127.0.0.1:5000.
# Extra arguments go to `xinfang run` (e.g. --port 5001).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh

# -- what the server needs from Debian: a CJK font for notices, replies and certificates ----------
# Installed when missing (as scripts/test.sh does for its packages), or a clear one-line stop
# before anything is created. XINFANG_CJK_FONT names a font of your own instead.
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
font_package=fonts-noto-cjk
if [ -n "${XINFANG_CJK_FONT:-}" ]; then
    [ -f "${XINFANG_CJK_FONT%%#*}" ] || die "XINFANG_CJK_FONT=${XINFANG_CJK_FONT} does not exist"
elif command -v dpkg-query >/dev/null 2>&1 &&
    [ "$(dpkg-query -W -f='${Status}' "$font_package" 2>/dev/null)" != "install ok installed" ]; then
    command -v apt-get >/dev/null 2>&1 ||
        die "the CJK font is missing: install the Debian package $font_package, or set XINFANG_CJK_FONT to a .ttc/.ttf/.otf file"
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 ||
            die "the CJK font is missing: run 'apt-get install $font_package' as root, or set XINFANG_CJK_FONT"
        sudo=(sudo)
    fi
    echo "==> Installing the Debian package $font_package (the CJK font of notices and certificates)"
    { "${sudo[@]}" apt-get update -q && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "$font_package"; } >/dev/null ||
        die "could not install $font_package; install it (apt-get install $font_package) or set XINFANG_CJK_FONT"
fi

home=${XINFANG_HOME:-instance}

has_database() {
    if [ -z "${XINFANG_DATABASE_URL:-}" ]; then
        [ -s "$home/xinfang.sqlite3" ]
        return
    fi
    # A server database: it "exists" for us when the schema is there.
    .venv/bin/python - <<'PY' 2>/dev/null
import sys

from sqlalchemy import inspect

from records.settings import Settings
from records.db import Database

db = Database(Settings.from_env().database_url)
try:
    sys.exit(0 if "records" in inspect(db.engine).get_table_names() else 1)
finally:
    db.dispose()
PY
}

if has_database; then
    echo "==> Using the existing instance in $home"
    # Applies new schema migrations after an update, and completes an initialisation that
    # stopped half-way (it says so); never touches the key or the data.
    .venv/bin/xinfang init
    if [ -f "$home/demo-accounts.txt" ]; then
        echo "    Demo accounts (DEMO ONLY): $home/demo-accounts.txt"
    fi
else
    echo "==> Creating a demo instance in $home"
    .venv/bin/xinfang init --demo
fi

# Letters registered outside a request (the demo letters, CLI imports) wait in the outbox
# until an index writer takes them: bring the search index up to date before serving.
.venv/bin/xinfang search sync

if [ $# -eq 0 ]; then
    echo "==> Serving on http://127.0.0.1:5000 (Ctrl-C stops)"
else
    echo "==> Serving with: xinfang run --host 127.0.0.1 --port 5000 $* (Ctrl-C stops)"
fi
exec .venv/bin/xinfang run --host 127.0.0.1 --port 5000 "$@"

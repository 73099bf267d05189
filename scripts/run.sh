#!/usr/bin/env bash
# Run Xinfang Records on this machine: set up, create a demo instance the first time
# (./instance, or $XINFANG_HOME), and serve it on http://127.0.0.1:5000.
# Extra arguments go to `xinfang run` (e.g. --port 5001).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh

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

from records.config import Settings
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
    # Applies new schema migrations after an update; never touches the key or the data.
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

#!/usr/bin/env bash
# Run the whole test suite twice: on SQLite, then on a real PostgreSQL server.
#
# Installs what the suite needs when it is missing (Debian packages: chromium and
# chromium-driver for the browser test, postgresql, fonts-noto-cjk), starts a throw-away
# PostgreSQL cluster in a temporary folder on a loopback port, and removes it at the end.
# Set XINFANG_TEST_DATABASE_URL to use a server of your own instead (its user must be
# allowed to create databases). Extra arguments go to pytest, e.g.
#   bash scripts/test.sh tests/records -x
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

bash scripts/setup.sh

# A PostgreSQL server of the caller's own, if any (read before XINFANG_* is cleared below).
own_url=${XINFANG_TEST_DATABASE_URL:-}

# -- Debian packages --------------------------------------------------------------
# What the suite needs: the browser for the end-to-end test, the CJK font for PDF notices,
# the PostgreSQL server for the second run (unless the caller brings one).
packages=(chromium chromium-driver fonts-noto-cjk)
if [ -z "$own_url" ]; then packages+=(postgresql); fi

package_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    for p in "${packages[@]}"; do
        package_installed "$p" || missing+=("$p")
    done
fi
if [ ${#missing[@]} -gt 0 ]; then
    command -v apt-get >/dev/null 2>&1 || die "missing packages ${missing[*]} and no apt-get to install them"
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "missing packages ${missing[*]}; run as root or install sudo"
        sudo=(sudo)
    fi
    say "Installing Debian packages: ${missing[*]}"
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# -- a throw-away PostgreSQL cluster ----------------------------------------------------
pg_dir=""
pg_bin=""
as_pg=()

stop_postgres() {
    if [ -n "$pg_dir" ] && [ -d "$pg_dir" ]; then
        if [ -f "$pg_dir/data/postmaster.pid" ]; then
            "${as_pg[@]}" "$pg_bin/pg_ctl" stop -D "$pg_dir/data" -m fast -s >/dev/null 2>&1 || true
        fi
        rm -rf "$pg_dir"
    fi
}

free_port() {
    .venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start_postgres() {
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql"
    local version
    version=$("$pg_bin/postgres" --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)*.*/\1/')
    [ "$version" -ge 15 ] || die "PostgreSQL $version found; 15 or newer is needed"

    pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/xinfang-pg.XXXXXX")
    trap stop_postgres EXIT
    trap 'exit 130' INT TERM
    if [ "$(id -u)" -eq 0 ]; then
        # The server refuses to run as root: the cluster belongs to the postgres user.
        id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user"
        chown postgres: "$pg_dir"
        as_pg=(runuser -u postgres --)
    fi
    local port
    port=$(free_port)
    "${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 --no-locale \
        >"$pg_dir/initdb.log" 2>&1 || { cat "$pg_dir/initdb.log" >&2; die "initdb failed"; }
    # Loopback only, socket in the temporary folder; durability is not needed for tests. The
    # office's time zone, not UTC, so that a timestamp stored in local time would show up.
    "${as_pg[@]}" "$pg_bin/pg_ctl" start -w -s -D "$pg_dir/data" -l "$pg_dir/server.log" \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $pg_dir -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c timezone=Asia/Shanghai" \
        || { cat "$pg_dir/server.log" >&2; die "the PostgreSQL server did not start"; }
    pg_url="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
    pg_label="PostgreSQL $version (throw-away cluster on 127.0.0.1:$port)"
}

# -- the two runs -----------------------------------------------------------------------
# Settings of the caller's own instance must not leak into the tests.
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep '^XINFANG_' || true)

if [ -n "$own_url" ]; then
    pg_url=$own_url
    pg_label="PostgreSQL at ${own_url##*@} (XINFANG_TEST_DATABASE_URL)"
else
    start_postgres
fi

# One process: pytest-xdist with two workers was slower on a two-core machine (92 s against
# 84 s for the SQLite run) and not every test is written for parallel workers yet.
pytest_args=(-q --durations=5)
if [ $# -gt 0 ]; then pytest_args+=("$@"); fi

declare -A results
run_suite() {
    local name=$1; shift
    say "Test suite on $name"
    local rc=0
    env "$@" .venv/bin/python -m pytest "${pytest_args[@]}" || rc=$?
    case $rc in
        0) results[$name]="passed" ;;
        5) results[$name]="FAILED (no tests were collected)" ;;
        *) results[$name]="FAILED (pytest exit code $rc)" ;;
    esac
    [ "$rc" -eq 0 ]
}

status=0
run_suite "SQLite" || status=1
run_suite "$pg_label" XINFANG_TEST_DATABASE_URL="$pg_url" || status=1

# Static checks (issue 8): bandit fails on high-severity findings, pip-audit on known
# vulnerabilities of the installed packages. A check that examined nothing (pip-audit without
# its advisory service) is "not run: <reason>", never "passed" (issue 15).
say "Security checks (bandit, pip-audit)"
sec_out="$(mktemp)"
# (the exit code is kept, not piped: under "set -e -o pipefail" a pipe ending in 3 would end
# this script before the lint and the summary)
sec_rc=0
bash scripts/security.sh >"$sec_out" 2>&1 || sec_rc=$?
cat "$sec_out"
case $sec_rc in
    0) results[security]="passed" ;;
    3) results[security]="$(tail -n 1 "$sec_out" | sed 's/^security: //')" ;;
    *) results[security]="FAILED ($(tail -n 1 "$sec_out" | sed 's/^security: //'))"; status=1 ;;
esac
rm -f "$sec_out"

# Lint (issue 13): ruff and the import contracts (lint-imports), configured in pyproject.toml.
say "Lint (ruff, lint-imports)"
if bash scripts/lint.sh; then results[lint]="passed"; else results[lint]="FAILED"; status=1; fi

say "Summary"
printf '  %-60s %s\n' "SQLite" "${results[SQLite]}" "$pg_label" "${results[$pg_label]}" \
    "bandit + pip-audit" "${results[security]}" "ruff + lint-imports" "${results[lint]}"
exit $status

#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need (Debian's postgresql
# and chromium), starts a throw-away PostgreSQL cluster on loopback, runs every test, and stops
# the cluster again. `.ci/run` calls exactly this with CI=true, which makes the PostgreSQL,
# browser and benchmark-data tests mandatory instead of skippable.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*" >&2; }

# ---- what the tests need -----------------------------------------------------------------------
missing=()
ls /usr/lib/postgresql/*/bin/postgres /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing ${missing[*]} (Debian packages)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "The tests need: ${missing[*]}. Install them with: sudo apt-get install ${missing[*]}" >&2
    [ "${CI:-}" = true ] && exit 1
    echo "Tests that need them will be skipped." >&2
  fi
fi
if [ "${CI:-}" = true ] && [ ! -d ../shared/data ]; then
  echo "CI=true but ../shared/data is missing: the benchmark-data tests cannot run." >&2
  exit 1
fi

# ---- a throw-away PostgreSQL cluster -----------------------------------------------------------
pg_dir=""
stop_pg() {
  if [ -n "$pg_dir" ] && [ -d "$pg_dir" ]; then
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  fi
}
trap stop_pg EXIT
if [ -z "${HARK_TEST_PG_URL:-}" ] && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  pg_dir=$(mktemp -d /tmp/hark-pg.XXXXXX)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$pg_dir"
    as_pg() { runuser -u postgres -- "$@"; }
  else
    as_pg() { "$@"; }
  fi
  say "starting a throw-away PostgreSQL on 127.0.0.1:$port"
  as_pg "$pg_bin/initdb" -D "$pg_dir/data" -U hark --auth=trust -E UTF8 --no-sync >/dev/null
  as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
    -o "-h 127.0.0.1 -p $port -k $pg_dir -c max_connections=400 -c fsync=off -c synchronous_commit=off" start >/dev/null
  export HARK_TEST_PG_URL="postgres://hark@127.0.0.1:$port/postgres"
fi

# ---- the tests ---------------------------------------------------------------------------------
say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
say "cargo test"
cargo test --workspace --all-targets --no-fail-fast "$@"

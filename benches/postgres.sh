#!/usr/bin/env bash
# Runs a PostgreSQL benchmark (benches/rest.rs by default, or
# benches/search.rs) against a private PostgreSQL cluster with durable
# settings (fsync and synchronous_commit on, as a user would run it), then
# stops the cluster and removes its directory.
#
#   benches/postgres.sh                  # cargo bench --bench rest
#   benches/postgres.sh --bench search   # cargo bench --bench search
#   benches/postgres.sh --no-run         # extra args go to cargo bench
#
# IPE_BENCH_KEEP=1 leaves the cluster running afterwards (the search bench
# then keeps its database too), to run EXPLAIN ANALYZE on it; the script
# prints how to connect and how to stop it.
#
# Needs the PostgreSQL server binaries (initdb, pg_ctl; Debian keeps them in
# /usr/lib/postgresql/<version>/bin) and the outside test data (IPE_TEST_DATA,
# default ../shared/fhir). When run as root the cluster runs as `postgres`.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
die() { printf 'benches/postgres.sh: %s\n' "$*" >&2; exit 1; }

data="${IPE_TEST_DATA:-../shared/fhir}"
case "$data" in /*) ;; *) data="$repo_root/$data" ;; esac
[ -d "$data" ] || die "outside test data not found at '$data' (set IPE_TEST_DATA)."
IPE_TEST_DATA="$(cd "$data" && pwd -P)"
export IPE_TEST_DATA
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ipe-target}"

pg_bin=""
if initdb="$(command -v initdb 2>/dev/null)"; then
  pg_bin="$(dirname "$(readlink -f "$initdb")")"
else
  pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r | head -n 1)"
fi
[ -n "$pg_bin" ] && [ -x "$pg_bin/pg_ctl" ] || die "PostgreSQL server binaries (initdb, pg_ctl) not found."

pg_run=()
pg_owner="$(id -un)"
if [ "$(id -u)" -eq 0 ]; then
  pg_owner=postgres
  id postgres >/dev/null 2>&1 || die "running as root but there is no postgres user to run the cluster."
  pg_run=(runuser -u postgres --)
fi

pg_dir="$(mktemp -d /tmp/ipe-bench-pg.XXXXXX)"
pg_data="$pg_dir/data"
chmod 0755 "$pg_dir"
[ "$pg_owner" = "$(id -un)" ] || chown "$pg_owner:" "$pg_dir"
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -f "$pg_data/postmaster.pid" ]; then
    (cd "$pg_dir" && ${pg_run[@]+"${pg_run[@]}"} "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w -t 60 stop >/dev/null 2>&1) || true
  fi
  rm -rf "$pg_dir"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

(cd "$pg_dir" && ${pg_run[@]+"${pg_run[@]}"} "$pg_bin/initdb" -D "$pg_data" -U postgres \
  --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$pg_dir/initdb.log" 2>&1) || {
  cat "$pg_dir/initdb.log" >&2
  die "initdb failed."
}

# PostgreSQL's defaults except for memory and connections: durable commits
# (fsync, synchronous_commit and full_page_writes stay on).
cat >>"$pg_data/postgresql.conf" <<EOF

# --- benches/postgres.sh: durable settings, sized for a small machine ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$pg_dir'
max_connections = 100
shared_buffers = 512MB
max_wal_size = 2GB
fsync = on
synchronous_commit = on
full_page_writes = on
log_min_messages = warning
EOF

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
(cd "$pg_dir" && ${pg_run[@]+"${pg_run[@]}"} "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_dir/postgres.log" \
  -o "-p $port -k $pg_dir" -w -t 60 start >/dev/null) || {
  cat "$pg_dir/postgres.log" >&2
  die "could not start PostgreSQL."
}

export IPE_BENCH_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') (durable settings) at $IPE_BENCH_DATABASE_URL"
# `--bench rest` unless the arguments name a bench themselves.
bench_args=(--bench rest)
for arg in "$@"; do
  case "$arg" in --bench | --bench=*) bench_args=() ;; esac
done

if [ "${IPE_BENCH_KEEP:-}" = 1 ]; then
  trap - EXIT
  rc=0
  cargo bench ${bench_args[@]+"${bench_args[@]}"} "$@" || rc=$?
  echo "kept the cluster: psql -h $pg_dir -p $port -U postgres <database>"
  echo "stop it with: ${pg_run[*]+${pg_run[*]} }$pg_bin/pg_ctl -D $pg_data -m fast stop && rm -rf $pg_dir"
  exit "$rc"
fi
cargo bench ${bench_args[@]+"${bench_args[@]}"} "$@"

#!/usr/bin/env bash
# Runs the whole Ipê test suite: format check, clippy, and every test on both
# SQLite and a private, throw-away PostgreSQL cluster.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh some_filter     # extra args go to `cargo test --workspace`
#
# Environment:
#   IPE_TEST_DATA      the outside test data (default: ../shared/fhir beside the
#                      repository; a relative path is taken from the repository
#                      root); exported to the tests as an absolute path.
#   CARGO_TARGET_DIR   build cache (default: ~/.cache/ipe-target, outside the clone).
#   IPE_PYTHON         Python of the search oracle and the test SMTP server (default: a venv made once in
#                      ~/.cache/ipe-venv from scripts/test-requirements.txt).
#
# The tests receive IPE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:<port>/postgres
# (a superuser on a private cluster); each test creates its own database there.
# The cluster and its directory are removed when this script exits, whatever
# the outcome. The exit code is the first failing step's.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'scripts/test.sh: %s\n' "$*" >&2; exit 1; }

# --- outside test data -------------------------------------------------------

data="${IPE_TEST_DATA:-../shared/fhir}"
case "$data" in
  /*) ;;
  *) data="$repo_root/$data" ;;
esac
if [ ! -d "$data" ]; then
  die "outside test data not found at '$data'.
  The test suite needs the FHIR test data folder (official FHIRPath tests,
  validator cases, IG packages, Synthea patients, ...). Put it at ../shared/fhir
  next to the repository, or point IPE_TEST_DATA at it."
fi
IPE_TEST_DATA="$(cd "$data" && pwd -P)"
export IPE_TEST_DATA

# --- build settings ----------------------------------------------------------

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ipe-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"

command -v cargo >/dev/null 2>&1 || die "cargo not found on PATH (install Rust with rustup)."
for component in rustfmt clippy; do
  sub="${component/rustfmt/fmt}"
  if ! cargo "$sub" --version >/dev/null 2>&1; then
    if command -v rustup >/dev/null 2>&1; then
      step "installing rustup component $component"
      rustup component add "$component"
    else
      die "'cargo $sub' is not available; install the $component component."
    fi
  fi
done

# --- Python for the search oracle and the SMTP server -------------------------

# tests/api/search/oracle.rs checks search against scripts/search-oracle.py,
# which needs fhirpathpy; the email subscription test runs aiosmtpd. The venv
# is made again when the requirements change.
if [ -z "${IPE_PYTHON:-}" ]; then
  venv="$HOME/.cache/ipe-venv"
  requirements="$repo_root/scripts/test-requirements.txt"
  if ! cmp -s "$requirements" "$venv/requirements.txt"; then
    command -v python3 >/dev/null 2>&1 || die "python3 not found on PATH (the search oracle needs it)."
    step "making the search oracle's Python venv ($venv)"
    rm -rf "$venv"
    python3 -m venv "$venv" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)."
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$venv/requirements.txt"
  fi
  IPE_PYTHON="$venv/bin/python"
fi
export IPE_PYTHON

# --- PostgreSQL binaries -----------------------------------------------------

find_pg_bin() {
  local initdb dir
  if initdb="$(command -v initdb 2>/dev/null)"; then
    dir="$(dirname "$(readlink -f "$initdb")")"
    if [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
      echo "$dir"
      return 0
    fi
  fi
  # Debian/Ubuntu keep the server binaries off PATH; take the newest version.
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

if ! pg_bin="$(find_pg_bin)"; then
  command -v apt-get >/dev/null 2>&1 \
    || die "PostgreSQL server binaries (initdb, pg_ctl) not found and apt-get is unavailable; install PostgreSQL 15."
  step "installing PostgreSQL (apt-get install postgresql)"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "PostgreSQL is missing and installing it needs root (no sudo found)."
    sudo_cmd=(sudo -n)
  fi
  ${sudo_cmd[@]+"${sudo_cmd[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update </dev/null
  ${sudo_cmd[@]+"${sudo_cmd[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql </dev/null
  pg_bin="$(find_pg_bin)" || die "PostgreSQL was installed but initdb/pg_ctl are still not found."
fi

# initdb refuses to run as root: then the cluster belongs to the postgres user.
pg_run=()
pg_owner="$(id -un)"
if [ "$(id -u)" -eq 0 ]; then
  pg_owner=postgres
  if ! id postgres >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin postgres
  fi
  if command -v runuser >/dev/null 2>&1; then
    pg_run=(runuser -u postgres --)
  elif command -v setpriv >/dev/null 2>&1; then
    pg_run=(setpriv "--reuid=$(id -u postgres)" "--regid=$(id -g postgres)" --init-groups --)
  else
    die "running as root but neither runuser nor setpriv is available to drop to the postgres user."
  fi
fi

# --- private cluster ---------------------------------------------------------

pg_dir=""
pg_data=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$pg_data" ] && [ -f "$pg_data/postmaster.pid" ]; then
    printf '\n==> stopping PostgreSQL\n'
    if ! (cd "$pg_dir" && ${pg_run[@]+"${pg_run[@]}"} "$pg_bin/pg_ctl" -D "$pg_data" -m immediate -w -t 30 stop >/dev/null 2>&1); then
      # pg_ctl could not stop it: kill the postmaster (and so its children) by pid.
      local pid
      pid="$(head -n 1 "$pg_data/postmaster.pid" 2>/dev/null || true)"
      if [ -n "$pid" ]; then
        kill -KILL "$pid" 2>/dev/null || true
        sleep 1
      fi
    fi
  fi
  if [ -n "$pg_dir" ] && [ -d "$pg_dir" ]; then
    rm -rf "$pg_dir"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
  else
    local port
    for _ in $(seq 1 100); do
      port=$((20000 + RANDOM % 40000))
      if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "$port"
        return 0
      fi
    done
    return 1
  fi
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

step "starting a private PostgreSQL cluster ($("$pg_bin/postgres" --version))"
# Short path in /tmp: the socket path must stay under ~100 bytes and be
# reachable by the postgres user.
pg_dir="$(mktemp -d /tmp/ipe-pg.XXXXXX)"
pg_data="$pg_dir/data"
chmod 0755 "$pg_dir"
if [ "$pg_owner" != "$(id -un)" ]; then
  chown "$pg_owner:" "$pg_dir"
fi

# A UTF-8 locale when the system has one (lower()/upper() then fold non-ASCII
# letters as on a production server); plain C otherwise.
locale_opt=--no-locale
if command -v locale >/dev/null 2>&1 && locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then
  locale_opt=--locale=C.UTF-8
fi
(cd "$pg_dir" && ${pg_run[@]+"${pg_run[@]}"} "$pg_bin/initdb" -D "$pg_data" -U postgres \
  --auth=trust --encoding=UTF8 "$locale_opt" --no-sync >"$pg_dir/initdb.log" 2>&1) || {
  cat "$pg_dir/initdb.log" >&2
  die "initdb failed."
}

cat >>"$pg_data/postgresql.conf" <<EOF

# --- scripts/test.sh: a throw-away cluster for tests ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$pg_dir'
max_connections = 300
shared_buffers = 128MB
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
max_wal_size = 1GB
checkpoint_timeout = 30min
autovacuum = off
max_locks_per_transaction = 256
log_min_messages = warning
log_min_error_statement = panic
EOF

started=""
for attempt in 1 2 3 4 5; do
  port="$(free_port)" || die "could not find a free TCP port."
  if port_in_use "$port"; then
    continue
  fi
  if (cd "$pg_dir" && ${pg_run[@]+"${pg_run[@]}"} "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_dir/postgres.log" \
      -o "-p $port -k $pg_dir" -w -t 60 start >/dev/null 2>&1); then
    started=yes
    break
  fi
  echo "PostgreSQL did not start on port $port (attempt $attempt); retrying." >&2
done
if [ -z "$started" ]; then
  cat "$pg_dir/postgres.log" >&2 || true
  die "could not start PostgreSQL."
fi

export IPE_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
echo "PostgreSQL is up: $IPE_TEST_POSTGRES_URL (data in $pg_data)"
echo "Outside test data: $IPE_TEST_DATA"
echo "Build cache: $CARGO_TARGET_DIR"
echo "Search oracle's Python: $IPE_PYTHON"

# --- the checks --------------------------------------------------------------

step "cargo fmt --all -- --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test --workspace $*"
cargo test --workspace "$@"

printf '\n==> all checks passed (fmt, clippy, tests on SQLite and PostgreSQL)\n'

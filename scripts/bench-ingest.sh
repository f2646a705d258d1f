#!/usr/bin/env bash
# Ingestion benchmark: HTTP ingestion through the real server vs. the raw insert rate of the same
# database, in one run. Usage: scripts/bench-ingest.sh sqlite|postgres [EVENTS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-sqlite}
events=${2:-1000000}
connections=${3:-8}
# shellcheck source=scripts/scratch.sh
source scripts/scratch.sh bench

cargo leptos build --release >/dev/null
# The same flags as the server build of cargo-leptos, so the two share their compiled dependencies.
RUSTFLAGS="--cfg erase_components" cargo build --release --locked -p loadgen >/dev/null


case "$backend" in
  sqlite) url="sqlite:$work/bench.db" ;;
  postgres)
    cluster=$(scripts/postgres.sh start "$work/pg")
    psql "$cluster/postgres" -qc "create database bench"
    url="$cluster/bench"
    ;;
  *) echo "usage: $0 sqlite|postgres [EVENTS] [CONNECTIONS]" >&2; exit 2 ;;
esac

port=$(free_port)
./target/release/loadgen setup --database-url "$url" --keys-file "$work/keys.json" >/dev/null
./target/release/server --database-url "$url" --listen-addr "127.0.0.1:$port" --log-level warn &
server_pid=$!
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.2; done

echo "backend: $backend, events: $events, connections: $connections"
./target/release/loadgen http --url "http://127.0.0.1:$port" --keys-file "$work/keys.json" --events "$events" --connections "$connections"
echo "server peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$server_pid/status)"
./target/release/loadgen baseline --database-url "$url" --events "$events" --rows-per-transaction 10000
./target/release/server --database-url "$url" reconcile | tail -n 1

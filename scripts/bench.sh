#!/usr/bin/env bash
# Benchmarks through the real server on a fresh database.
#   scripts/bench.sh ingest   sqlite|postgres [EVENTS] [CONNECTIONS]: HTTP ingestion vs. the raw
#                             insert rate of the same database, then reconcile
#   scripts/bench.sh webhooks sqlite|postgres [EVENTS] [CONNECTIONS]: signed Stripe deliveries acked
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-ingest}
backend=${2:-sqlite}
events=${3:-1000000}
connections=${4:-8}
secret=whsec_benchmark
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
  *) echo "usage: $0 ingest|webhooks sqlite|postgres [EVENTS] [CONNECTIONS]" >&2; exit 2 ;;
esac

port=$(free_port)
./target/release/loadgen setup --database-url "$url" --keys-file "$work/keys.json" >/dev/null
./target/release/server --database-url "$url" --listen-addr "127.0.0.1:$port" --log-level warn \
  --stripe-webhook-secret "$secret" &
server_pid=$!
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.2; done

echo "backend: $backend, events: $events, connections: $connections"
if [ "$what" = webhooks ]; then
  ./target/release/loadgen webhooks --url "http://127.0.0.1:$port" --secret "$secret" --events "$events" \
    --connections "$connections"
  echo "server peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$server_pid/status)"
  exit 0
fi
./target/release/loadgen http --url "http://127.0.0.1:$port" --keys-file "$work/keys.json" --events "$events" --connections "$connections"
echo "server peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$server_pid/status)"
./target/release/loadgen baseline --database-url "$url" --events "$events" --rows-per-transaction 10000
./target/release/server --database-url "$url" reconcile | tail -n 1

#!/usr/bin/env bash
# Benchmarks through the real server on a fresh database.
#   scripts/bench.sh ingest   sqlite|postgres [EVENTS] [CONNECTIONS]: HTTP ingestion vs. the raw
#                             insert rate of the same database, then reconcile
#   scripts/bench.sh ingest-typed sqlite|postgres [EVENTS] [CONNECTIONS]: the same with every
#                             `actions` event carrying an `action_type` dimension
#   scripts/bench.sh ingest-retries sqlite|postgres [EVENTS] [CONNECTIONS]: the same with the 5 %
#                             duplicates taken from the batch last sent for the organization,
#                             often still in flight: clients retrying batches that timed out
#   scripts/bench.sh webhooks sqlite|postgres [EVENTS] [CONNECTIONS]: signed Stripe deliveries acked
#   scripts/bench.sh pages    sqlite|postgres [REQUESTS] [USERS]: server-rendered pages of the demo
#                             owner under concurrent users, after a cold start on the demo data
#   scripts/bench.sh noisy    sqlite|postgres [QUOTA] [FLOOD CONNECTIONS]: one organization floods
#                             ingestion while another sends paced batches, with each organization's
#                             quota at QUOTA events/s (0: none)
#   scripts/bench.sh alerts   sqlite|postgres [SAMPLES] [FLOOD CONNECTIONS]: usage sent to a budget's
#                             threshold alert delivered by webhook, alone or while another
#                             organization floods ingestion
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-ingest}
backend=${2:-sqlite}
case "$what" in
  pages) events=${3:-5000} connections=${4:-50} ;;
  noisy) events=${3:-20000} connections=${4:-7} ;;
  alerts) events=${3:-200} connections=${4:-0} ;;
  *) events=${3:-1000000} connections=${4:-8} ;;
esac
quota=0
if [ "$what" = noisy ]; then quota=$events; fi
secret=whsec_benchmark
# shellcheck source=scripts/scratch.sh
source scripts/scratch.sh bench

# Only the pages benchmark serves the WASM bundle; the others skip its minutes-long front build.
if [ "$what" = pages ]; then
  cargo leptos build --release --split >/dev/null
else
  cargo leptos build --release --split --server-only >/dev/null
fi
# Its own target directory: cargo-leptos builds the server with other settings, and sharing one
# directory made each build throw the other's compiled dependencies away.
CARGO_TARGET_DIR=target/loadgen cargo build --release --locked -p loadgen >/dev/null
loadgen=target/loadgen/release/loadgen


case "$backend" in
  sqlite) url="sqlite:$work/bench.db" ;;
  postgres)
    cluster=$(scripts/postgres.sh start "$work/pg")
    psql "$cluster/postgres" -qc "create database bench"
    url="$cluster/bench"
    ;;
  *) echo "usage: $0 ingest|ingest-typed|ingest-retries|webhooks|pages|noisy|alerts sqlite|postgres [EVENTS] [CONNECTIONS]" >&2; exit 2 ;;
esac

port=$(free_port)
if [ "$what" = pages ]; then
  ./target/release/server --database-url "$url" seed-demo >/dev/null 2>&1
else
  "$loadgen" setup --database-url "$url" --keys-file "$work/keys.json" >/dev/null
fi
started=$(date +%s%N)
./target/release/server --database-url "$url" --listen-addr "127.0.0.1:$port" --log-level warn \
  --public-base-url "http://127.0.0.1:$port" \
  --stripe-webhook-secret "$secret" --ingest-events-per-second "$quota" \
  --webhook-allow-private-targets "$([ "$what" = alerts ] && echo true || echo false)" &
server_pid=$!
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.01; done
echo "cold start (process start to ready, migrated database): $(( ($(date +%s%N) - started) / 1000000 )) ms"

echo "backend: $backend, events: $events, connections: $connections"
if [ "$what" = pages ]; then
  "$loadgen" pages --url "http://127.0.0.1:$port" --database-url "$url" --requests "$events" \
    --users "$connections" --pages login,dashboard,usage,invoice
  echo "server peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$server_pid/status)"
  exit 0
fi
if [ "$what" = noisy ]; then
  echo "each organization's quota: $quota events/s (0: none)"
  "$loadgen" noisy-neighbour --url "http://127.0.0.1:$port" --keys-file "$work/keys.json" --quiet-batches 1500 \
    --flood-connections "$connections"
  exit 0
fi
if [ "$what" = alerts ]; then
  "$loadgen" alert-latency --url "http://127.0.0.1:$port" --keys-file "$work/keys.json" --database-url "$url" \
    --samples "$events" --background-connections "$connections"
  exit 0
fi
if [ "$what" = webhooks ]; then
  "$loadgen" webhooks --url "http://127.0.0.1:$port" --secret "$secret" --events "$events" \
    --connections "$connections"
  echo "server peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$server_pid/status)"
  exit 0
fi
shape=(--typed-share "$([ "$what" = ingest-typed ] && echo 1 || echo 0)")
if [ "$what" = ingest-retries ]; then shape+=(--recent-duplicates); fi
"$loadgen" http --url "http://127.0.0.1:$port" --keys-file "$work/keys.json" --events "$events" \
  --connections "$connections" --database-url "$url" "${shape[@]}"
echo "server peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$server_pid/status)"
"$loadgen" baseline --database-url "$url" --events "$events" --rows-per-transaction 10000
./target/release/server --database-url "$url" reconcile | tail -n 2

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
#   scripts/bench.sh pages-after sqlite|postgres [EVENTS]: the pages benchmark on the demo, then again
#                             after EVENTS events of other organizations were ingested over HTTP
#                             (on PostgreSQL once its vacuum is done), then the invoice run of
#                             100,000 subscriptions in the same database (how far a database goes)
#   scripts/bench.sh archive  sqlite|postgres [EVENTS]: EVENTS events written straight into October
#                             2026, then `server archive --before 2026-11` timed, with the sizes
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-ingest}
backend=${2:-sqlite}
case "$what" in
  pages) events=${3:-5000} connections=${4:-50} ;;
  noisy) events=${3:-20000} connections=${4:-7} ;;
  alerts) events=${3:-200} connections=${4:-0} ;;
  pages-after) events=${3:-10000000} connections=8 ;;
  archive) events=${3:-5000000} connections=0 ;;
  *) events=${3:-1000000} connections=${4:-8} ;;
esac
quota=0
if [ "$what" = noisy ]; then quota=$events; fi
secret=whsec_benchmark
# shellcheck source=scripts/scratch.sh
source scripts/scratch.sh bench

# Only the pages benchmark serves the WASM bundle; the others skip its minutes-long front build.
if [ "$what" = pages ] || [ "$what" = pages-after ]; then
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
  *) echo "usage: $0 ingest|ingest-typed|ingest-retries|webhooks|pages|pages-after|noisy|alerts|archive sqlite|postgres [EVENTS] [CONNECTIONS]" >&2; exit 2 ;;
esac

database_size() {
  case "$backend" in
    sqlite) du -k "$work"/bench.db* | awk '{s += $1} END {printf "%.0f MB\n", s / 1024}' ;;
    postgres) psql "$url" -Atc "select pg_size_pretty(pg_database_size(current_database()))" ;;
  esac
}

if [ "$what" = archive ]; then
  ./target/release/server --database-url "$url" migrate >/dev/null
  # A month of events with the widths ingestion stores (random 32-hex ids, 64-hex content hashes),
  # a quarter of them with a dimension; written by SQL, so no rollups match them (not reconciled).
  october=1790812800000 month_ms=2678400000
  columns="organization_id, event_id, namespace_id, metric, quantity, occurred_at, hour, properties, content_hash, received_at, late, commit_id, dimensions"
  at="$october + (i - 1) * ($month_ms / $events)"
  values="'org_' || (i % 1000), 'evt_' || %ID%, 'ns_' || (i % 10000), case when i % 3 = 0 then 'storage' else 'actions' end, i % 500, $at, ($at) / 3600000 * 3600000, null, %HASH%, $at, 0, i / 1000, case when i % 4 = 0 then 'action_type=signal' end"
  if [ "$backend" = sqlite ]; then
    values=${values/\%ID\%/lower(hex(randomblob(16)))}; values=${values/\%HASH\%/lower(hex(randomblob(32)))}
    sqlite3 "$work/bench.db" "with recursive g(i) as (select 1 union all select i + 1 from g where i < $events) insert into usage_events ($columns) select $values from g"
  else
    values=${values/\%ID\%/md5(random()::text)}
    # October's own partition, as the server makes for the months it takes usage for; the content
    # hashes go with the keys.
    columns=${columns/content_hash, /}; values=${values/\%HASH\%, /}
    psql "$url" -qc "create table usage_events_2026_10 partition of usage_events for values from ($october) to ($(( october + month_ms )))" \
      -c "insert into usage_events ($columns) select $values from generate_series(1, $events) i" \
      -c "insert into usage_event_keys select organization_id, event_id, md5(random()::text) || md5(random()::text) from usage_events" \
      -c "vacuum analyze usage_events" -c "vacuum analyze usage_event_keys"
  fi
  echo "backend: $backend, $events events in October 2026; database $(database_size)"
  started=$(date +%s%N)
  # October closes for late usage (30 days here) by early December.
  USAGE_MAX_AGE_DAYS=30 ./target/release/server --database-url "$url" --log-level error archive --before 2026-11 --dir "$work/archive"
  echo "archive: $(( ($(date +%s%N) - started) / 1000000 )) ms; file $(du -k "$work"/archive/*.zst | awk '{printf "%.1f MB", $1 / 1024}'); database after $(database_size)"
  if [ "$backend" = sqlite ]; then
    started=$(date +%s%N)
    sqlite3 "$work/bench.db" vacuum
    echo "vacuum: $(( ($(date +%s%N) - started) / 1000000 )) ms; database after $(database_size)"
  fi
  exit 0
fi

port=$(free_port)
if [ "$what" = pages ]; then
  ./target/release/server --database-url "$url" seed-demo >/dev/null 2>&1
elif [ "$what" = pages-after ]; then
  ./target/release/server --database-url "$url" seed-demo >/dev/null 2>&1
  "$loadgen" setup --database-url "$url" --keys-file "$work/keys.json" >/dev/null
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
if [ "$what" = pages-after ]; then
  pages() {
    "$loadgen" pages --url "http://127.0.0.1:$port" --database-url "$url" --requests 5000 --users 50 \
      --pages login,dashboard,usage,invoice
  }
  echo "pages on the demo alone:"
  pages
  "$loadgen" http --url "http://127.0.0.1:$port" --keys-file "$work/keys.json" --events "$events" \
    --connections 8 --database-url "$url" --typed-share 0
  echo "database: $(database_size)"
  if [ "$backend" = postgres ]; then
    # Autovacuum takes up to half the machine for minutes after a load this size; the pages are
    # measured once it is done, as they would be an hour later.
    vacuum_started=$(date +%s)
    psql "$url" -qc "vacuum (analyze)"
    echo "vacuum after the load: $(( $(date +%s) - vacuum_started )) s"
  fi
  echo "pages after the load:"
  pages
  echo "server peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$server_pid/status)"
  # The server's own billing job would close the run's periods (January 2026) beside it: it stops
  # first. No organization of the demo or of the load has a period ending then.
  kill "$server_pid"
  wait "$server_pid" || true
  "$loadgen" invoice-run --database-url "$url" --subscriptions 100000
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
echo "database: $(database_size)"
if [ "$backend" = postgres ]; then
  psql "$url" -At -c "select 'events (every partition, with indexes): ' || pg_size_pretty(sum(pg_total_relation_size(inhrelid)))
                      from pg_inherits where inhparent = 'usage_events'::regclass" \
    -c "select 'event keys: ' || pg_size_pretty(pg_total_relation_size('usage_event_keys'))" \
    -c "select 'hourly rollups and their parts: ' || pg_size_pretty(pg_total_relation_size('usage_hourly') + pg_total_relation_size('usage_hourly_parts'))"
fi
# The raw baseline copies as many rows again: past 10 million they do not fit beside the events
# on the benchmark machine's disk.
if [ "$events" -le 10000000 ]; then
  "$loadgen" baseline --database-url "$url" --events "$events" --rows-per-transaction 10000
fi
./target/release/server --database-url "$url" reconcile | tail -n 2

#!/usr/bin/env bash
# The whole test suite: unit and API tests on SQLite and on PostgreSQL (a private cluster started
# and stopped here), then the browser journeys in Chromium against a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
# shellcheck source=scripts/scratch.sh
source scripts/scratch.sh test

section() { printf '\n==== %s\n' "$*"; }

export FAULT_REPORT="$work/fault-report.txt"
: >"$FAULT_REPORT"

section "unit and API tests on SQLite"
TEST_DATABASE=sqlite cargo test --locked -p app -p server -p loadgen --features app/ssr

section "API tests on PostgreSQL (private cluster, with a streaming replica)"
postgres_url=$(scripts/postgres.sh start "$work/pg")
replica_url=$(scripts/postgres.sh replica "$work/pg" "$work/pg-replica")
echo "cluster at $postgres_url, its replica at $replica_url"
# The same packages and features as above, so nothing is compiled again (the unit tests rerun in a second).
TEST_DATABASE=postgres TEST_POSTGRES_URL="$postgres_url" TEST_POSTGRES_REPLICA_URL="$replica_url" \
  cargo test --locked -p app -p server -p loadgen --features app/ssr

section "browser journeys in Chromium (release build)"
# Room left for the release build: when it fails on a CI machine, these lines tell whether disk or
# memory ran out.
df -h . /tmp | sed 's/^/  /'
free -m | sed 's/^/  /'
cargo leptos build --release --precompress --split
database="sqlite:$work/e2e.db"
port=$(free_port)
base_url="http://127.0.0.1:$port"
mail_dir="$work/mail"
./target/release/server --database-url "$database" --public-base-url "$base_url" --mail-log-dir "$mail_dir" seed-demo >/dev/null
# The webhooks journey's receiver listens on loopback.
./target/release/server --database-url "$database" --listen-addr "127.0.0.1:$port" --public-base-url "$base_url" \
  --mail-log-dir "$mail_dir" --webhook-allow-private-targets true --log-level warn &
server_pid=$!
(cd end2end && BASE_URL="$base_url" MAIL_DIR="$mail_dir" npx playwright test)

section "WASM bundle size"
scripts/wasm-size.sh

section "fault runs (SIGKILL at random moments)"
cat "$FAULT_REPORT"

section "all tests passed: SQLite, PostgreSQL, Chromium"

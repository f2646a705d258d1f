#!/usr/bin/env bash
# The fault run, many times over (outside `make test`): runs of KILLS_PER_RUN SIGKILLs, each on a
# fresh database with its own seed and `server reconcile` clean at its end, until at least KILLS
# kills have been survived on each database. Prints one line per run (seed to replay it with
# FAULT_SEED and FAULT_KILLS) and the totals.
#   scripts/soak.sh [KILLS=100] [KILLS_PER_RUN=10]
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${1:-100}
per_run=${2:-10}
# shellcheck source=scripts/scratch.sh
source scripts/scratch.sh soak
report="$work/soak-report.txt"
: >"$report"

# The test binary is built once and run directly, so edits made meanwhile change nothing.
api_tests=$(cargo test --locked -p server --features app/ssr --test api --no-run --message-format=json |
  python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == "api" and m.get("executable"):
        print(m["executable"])')
postgres_url=$(scripts/postgres.sh start "$work/pg")
for database in sqlite postgres; do
  survived=0
  while [ "$survived" -lt "$kills" ]; do
    (cd server && FAULT_KILLS=$per_run FAULT_REPORT="$report" TEST_DATABASE=$database \
      TEST_POSTGRES_URL=$postgres_url "$api_tests" fault:: --quiet >/dev/null)
    survived=$((survived + per_run))
    tail -n 1 "$report"
  done
done

echo
echo "==== soak totals"
pattern='fault run on ([a-z]+) .*: ([0-9]+) kills survived; ([0-9]+) events and ([0-9]+) webhooks'
for database in sqlite postgres; do
  runs=0 total_kills=0 events=0 webhooks=0
  while read -r line; do
    [[ $line =~ $pattern ]] && [ "${BASH_REMATCH[1]}" = "$database" ] || continue
    runs=$((runs + 1)) total_kills=$((total_kills + BASH_REMATCH[2]))
    events=$((events + BASH_REMATCH[3])) webhooks=$((webhooks + BASH_REMATCH[4]))
  done <"$report"
  echo "$database: $total_kills kills survived in $runs runs; $events events and $webhooks webhooks acknowledged;" \
    "120 invoices charged once in every run; server reconcile clean after every run"
done

#!/usr/bin/env bash
# Sizes of the release WASM: the main module every page loads, and each lazily loaded page chunk.
set -euo pipefail
cd "$(dirname "$0")/.."
gz() { gzip -9c "$1" | wc -c; }
main=target/site/pkg/portal.wasm
printf 'main module (every page): %s bytes raw, %s bytes gzip -9\n' "$(stat -c %s "$main")" "$(gz "$main")"
total=0
for chunk in target/site/pkg/*.wasm; do
  [ "$chunk" = "$main" ] && continue
  size=$(gz "$chunk")
  total=$((total + size))
  printf '  chunk %s: %s bytes gzip -9\n' "$(basename "$chunk")" "$size"
done
printf 'all chunks together: %s bytes gzip -9\n' "$total"

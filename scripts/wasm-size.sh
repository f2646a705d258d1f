#!/usr/bin/env bash
# Sizes of the release WASM: the main module every page loads, each page's lazily loaded chunk,
# and the small chunks of code that several pages share.
set -euo pipefail
cd "$(dirname "$0")/.."
gz() { gzip -9c "$1" | wc -c; }
pkg=target/site/pkg
printf 'main module (every page): %s bytes raw, %s bytes gzip -9\n' "$(stat -c %s "$pkg/portal.wasm")" "$(gz "$pkg/portal.wasm")"
for chunk in "$pkg"/split_*.wasm; do
  [ -e "$chunk" ] || continue
  page=$(basename "$chunk" .wasm | sed -E 's/^split___(.*)_route_view_[0-9]+$/\1/')
  printf '  page %s: %s bytes gzip -9\n' "$page" "$(gz "$chunk")"
done
shared=0 count=0
for chunk in "$pkg"/chunk_*.wasm; do
  [ -e "$chunk" ] || continue
  shared=$((shared + $(gz "$chunk"))) count=$((count + 1))
done
printf '  %s shared chunks: %s bytes gzip -9 together\n' "$count" "$shared"

#!/usr/bin/env bash
# Regenerates the README's screenshots (docs/screenshots/*.png) from a freshly seeded demo, so
# they always show the portal as it is. Needs a release build (`make run` or `make test` makes one).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
[ -x target/release/server ] || cargo leptos build --release --precompress --split

work=$(mktemp -d)
port=3471
base_url="http://127.0.0.1:$port"
./target/release/server --database-url "sqlite:$work/demo.db" --public-base-url "$base_url" \
  --mail-log-dir "$work/mail" seed-demo >"$work/seed.log" 2>&1
./target/release/server --database-url "sqlite:$work/demo.db" --listen-addr "127.0.0.1:$port" \
  --public-base-url "$base_url" --mail-log-dir "$work/mail" --log-level warn &
server=$!
trap 'kill $server; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sf "$base_url/healthz" >/dev/null && break; sleep 0.2; done

mkdir -p docs/screenshots
(cd end2end && node screenshots.mjs "$base_url" ../docs/screenshots)

#!/usr/bin/env bash
# Builds the portal in release mode and runs it on the embedded SQLite database under data/,
# with demo data loaded, on http://127.0.0.1:3000.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"

cargo leptos build --release --precompress --split
# No mail relay here: mail (sign-up confirmations, password resets, notices) lands in data/mail.
export MAIL_LOG_DIR="${MAIL_LOG_DIR:-$PWD/data/mail}"
./target/release/server seed-demo
echo
echo "Open http://127.0.0.1:3000 and log in with one of the logins above, or sign up at /signup."
echo "Mail is written to $MAIL_LOG_DIR as .eml files (the links to confirm a sign-up are there)."
echo "Ctrl-C stops the portal."
exec ./target/release/server serve

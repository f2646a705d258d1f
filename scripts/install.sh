#!/usr/bin/env bash
# Installs what building and testing the portal needs, skipping whatever is already present.
# Safe to run again and again. Every step says what it does.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n[install] %s\n' "$*"; }
skip() { printf '[install] %s: already present\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_packages=()
[ -x /usr/bin/chromium ] || apt_packages+=(chromium chromium-driver)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_packages+=(postgresql)
command -v node >/dev/null 2>&1 || apt_packages+=(nodejs npm)
# pdftotext reads the invoice PDFs back in the API tests.
command -v pdftotext >/dev/null 2>&1 || apt_packages+=(poppler-utils)
# The tz database: pages read times in each reader's zone.
[ -e /usr/share/zoneinfo/Asia/Tokyo ] || apt_packages+=(tzdata)
if [ ${#apt_packages[@]} -gt 0 ]; then
  step "apt-get install ${apt_packages[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${apt_packages[@]}"
else
  skip "Debian packages (chromium, postgresql, node, poppler-utils, tzdata)"
fi

if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  skip "rust target wasm32-unknown-unknown"
else
  step "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if cargo leptos --version 2>/dev/null | grep -q '0\.3\.10'; then
  skip "cargo-leptos 0.3.10"
else
  step "cargo install cargo-leptos 0.3.10 (about 12 minutes on 2 cores)"
  cargo install cargo-leptos --locked --version 0.3.10
fi

# The CLI must equal the wasm-bindgen version in Cargo.lock.
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if wasm-bindgen --version 2>/dev/null | grep -q " ${bindgen_version}\$"; then
  skip "wasm-bindgen-cli ${bindgen_version}"
else
  step "cargo install wasm-bindgen-cli ${bindgen_version} (about 2 minutes)"
  # Its own lockfile asks for a crate newer than the registry mirror has, so resolve afresh.
  CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback cargo install wasm-bindgen-cli --version "=${bindgen_version}"
fi

# Playwright drives Debian's Chromium, so no browser download; npm's binaryen gives a wasm-opt
# that keeps hydration working (Debian's older one breaks it).
if [ -x end2end/node_modules/.bin/playwright ] && [ -x end2end/node_modules/.bin/wasm-opt ] \
  && [ -d end2end/node_modules/@axe-core/playwright ]; then
  skip "end2end npm packages (@playwright/test, @axe-core/playwright, binaryen)"
else
  step "npm ci in end2end/"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi

printf '\n[install] done\n'

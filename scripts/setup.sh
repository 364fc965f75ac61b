#!/usr/bin/env bash
# Create .venv and install gongkai with its pinned dependencies (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.gongkai-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements.lock -nt "$stamp" ]; then
  # pip 23's resolver breaks on trafilatura's lxml extras: upgrade pip first.
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -c requirements.lock -e '.[test]'
  touch "$stamp"
fi
# Chromium for the readers' browser tests (tests/test_web_browser.py; Playwright drives Debian's build, never a
# downloaded one). Skipped when present; without root (or sudo) a one-line note, and those tests skip.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then as_root=""; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then as_root="sudo -n"; else as_root="none"; fi
  if [ "$as_root" = "none" ]; then
    echo "setup: /usr/bin/chromium missing and no root to install it: the browser tests will skip" >&2
  else
    export DEBIAN_FRONTEND=noninteractive
    $as_root apt-get -qq update >/dev/null 2>&1 || true
    $as_root apt-get -qq install -y chromium >/dev/null 2>&1 \
      || echo "setup: could not install chromium (apt-get install chromium): the browser tests will skip" >&2
  fi
fi

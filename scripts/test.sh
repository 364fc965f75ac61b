#!/usr/bin/env bash
# Install, lint, run the whole test suite. pytest's "no tests ran" (exit 5) is a failure here.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || exit 1
.venv/bin/ruff check gongkai gongkai_replica tests bench || exit 1
# The architecture: layers import downward only, no cycles, platforms independent (pyproject [tool.importlinter]).
.venv/bin/lint-imports --no-cache >/dev/null || { .venv/bin/lint-imports --no-cache; exit 1; }
.venv/bin/python -m pytest "$@"
code=$?
if [ "$code" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$code"

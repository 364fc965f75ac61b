#!/usr/bin/env bash
# Fresh machine to stored reports: install, then crawl the bundled replica portals offline.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/gongkai demo "$@"

#!/usr/bin/env bash
# The one test command: install servers and Python deps if missing, then run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin"
scripts/install-servers.sh
scripts/setup.sh --test
exec .venv/bin/python -m pytest "$@"

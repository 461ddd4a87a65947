#!/usr/bin/env bash
# The one demo command: install CareHub into .venv if needed and run `carehub demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/carehub demo "$@"

#!/usr/bin/env bash
# Installs dependencies, builds the release tree and runs rollcalld on 127.0.0.1:3000.
# Extra arguments go to rollcalld.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/deps.sh
bash scripts/build.sh release
exec build/bin/rollcalld --listen 127.0.0.1:3000 "$@"

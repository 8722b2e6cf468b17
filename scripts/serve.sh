#!/usr/bin/env bash
# Installs dependencies, builds the release tree and runs rollcalld on
# 127.0.0.1:3000 in demo mode: demo users and organisations, the demo at
# /demo/ and the live dashboard at /admin/ (docs/operations.md).
#   scripts/serve.sh                  the demo
#   scripts/serve.sh --no-demo ...    plain rollcalld (embedded defaults)
#   scripts/serve.sh --config F ...   rollcalld with your configuration (no demo)
# Other arguments go to rollcalld.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

demo=1
args=()
for arg in "$@"; do
  case "$arg" in
    --no-demo) demo=0 ;;
    --config|--config=*) demo=0; args+=("$arg") ;;
    --demo) ;;  # the default
    *) args+=("$arg") ;;
  esac
done

bash scripts/deps.sh
bash scripts/build.sh release
if (( demo )); then
  echo "serve.sh: demo at http://127.0.0.1:3000/demo/ (open it in several tabs), dashboard at" \
       "http://127.0.0.1:3000/admin/#key=rollcall-demo-admin-key"
  exec build/bin/rollcalld --listen 127.0.0.1:3000 --demo "${args[@]}"
fi
exec build/bin/rollcalld --listen 127.0.0.1:3000 "${args[@]}"

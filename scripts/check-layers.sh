#!/usr/bin/env bash
# Checks that the layers of src/ point one way (docs/architecture.md,
# "Layers"): every `#include "area/..."` of a file under src/<area>/ must
# name an area that <area> may use, and the public headers
# (include/rollcall/) include only each other, the standard library and
# Boost. Unit tests (*_test.cpp) follow the rules of their folder, plus the
# shared helpers of tests/unit.
#
#   scripts/check-layers.sh     prints each violation; exit status 1 if any
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# What each area may include besides itself (<rollcall/...> is open to all:
# it is the public API that services and the app are built on).
declare -A may_use=(
  [common]=""
  [ws]="common"
  [engineio]="common ws"
  [socketio]="common ws engineio"
  [hooks]="common"
  [redis]="common"
  [auth]="common redis"
  [pg]="common"
  [notify]="common pg"
  [presence]="common hooks"
  [cluster]="common ws engineio socketio hooks redis presence"
  [server]="common ws engineio socketio hooks redis auth presence cluster"
  [app]=""
)

bad=0
for dir in src/*/; do
  area="$(basename "$dir")"
  if [[ -z "${may_use[$area]+set}" ]]; then
    echo "check-layers: src/$area/ is not in the layer table of $0" >&2
    bad=1
    continue
  fi
  allowed=" $area ${may_use[$area]} "
  while IFS=: read -r file line text; do
    [[ -n "$file" ]] || continue
    target="$(sed -E 's/^#include "([a-z_]+)\/.*/\1/' <<<"$text")"
    if [[ "$allowed" != *" $target "* ]]; then
      echo "$file:$line: src/$area may not include src/$target: $text"
      bad=1
    fi
  done < <(grep -rnE '^#include "[a-z_]+/' "$dir" --include='*.cpp' --include='*.hpp' || true)
done

# The public headers: no project-internal includes at all.
while IFS= read -r hit; do
  [[ -n "$hit" ]] || continue
  echo "$hit: a public header may include only <rollcall/...>, the standard library and Boost"
  bad=1
done < <(grep -rnE '^#include "' include/rollcall || true)

# The app is a client of the library: public headers and its own files only.
while IFS= read -r hit; do
  [[ -n "$hit" ]] || continue
  echo "$hit: src/app uses the public API only"
  bad=1
done < <(grep -rnE '^#include "' src/app | grep -vE ':#include "app/' || true)

if (( bad )); then
  echo "check-layers: violations found (docs/architecture.md, \"Layers\")"
  exit 1
fi
echo "check-layers: every include points down"

#!/usr/bin/env bash
# Regenerates the Python stubs (messages, .pyi type stubs, gRPC services) from proto/ into libs/jit/.
# Generated files are committed and never edited by hand; `make lint` fails when they are stale.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
case "$PY" in /*) ;; *) PY="$PWD/$PY" ;; esac  # absolute, so that it still names it from proto/
OUT=libs
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
mapfile -t PROTOS < <(cd proto && find jit -name '*.proto' | sort)
(cd proto && "$PY" -m grpc_tools.protoc -I. \
  --python_out="$TMP" --pyi_out="$TMP" --grpc_python_out="$TMP" "${PROTOS[@]}")
# Packages need __init__.py for setuptools to ship them.
find "$TMP/jit" -type d -exec touch {}/__init__.py \;
# Swap in one step, so a process importing the stubs meanwhile never sees a half-written tree.
rm -rf "$OUT/jit.old"
[ -d "$OUT/jit" ] && mv "$OUT/jit" "$OUT/jit.old"
mv "$TMP/jit" "$OUT/jit"
rm -rf "$OUT/jit.old"

#!/usr/bin/env bash
# Regenerates the Python stubs (messages, .pyi type stubs, gRPC services) from proto/ into libs/jit/.
# Generated files are committed and never edited by hand; `make lint` fails when they are stale.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
OUT=libs
rm -rf "$OUT/jit"
mkdir -p "$OUT"
mapfile -t PROTOS < <(cd proto && find jit -name '*.proto' | sort)
(cd proto && "../$PY" -m grpc_tools.protoc -I. \
  --python_out="../$OUT" --pyi_out="../$OUT" --grpc_python_out="../$OUT" "${PROTOS[@]}")
# Packages need __init__.py for setuptools to ship them.
find "$OUT/jit" -type d -exec touch {}/__init__.py \;

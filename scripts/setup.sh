#!/usr/bin/env bash
# Create .venv (if missing) and install litkb into it, CPU torch first.
# Usage: bash scripts/setup.sh [--dev]     (--dev adds the test and lint tools)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
VENV="${LITKB_VENV:-.venv}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV with $("$PYTHON" --version)" >&2
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

# A plain `torch` requirement pulls a CUDA build of several GB; the CPU build is all litkb needs.
if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
  echo "== installing torch (CPU build)" >&2
  "${PIP[@]}" install "torch==2.13.0"
fi

extra=""
[ "${1:-}" = "--dev" ] && extra="[dev]"
echo "== installing litkb$extra" >&2
"${PIP[@]}" install -e ".$extra"

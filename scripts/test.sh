#!/usr/bin/env bash
# Set up litkb with the development tools and run the whole test suite, then ruff and mypy.
# Usage: bash scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev

.venv/bin/ruff check litkb tests scripts
.venv/bin/mypy
.venv/bin/python -m pytest "$@"

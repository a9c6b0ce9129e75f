#!/usr/bin/env bash
# Regenerate the documentation's reference pages from the code, then build the site with --strict (a
# broken link or anchor fails). `--serve` previews it instead, at http://127.0.0.1:8000.
# Usage: bash scripts/docs.sh [--serve]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3
"$PY" scripts/docs.py
if [ "${1:-}" = "--serve" ]; then
  NO_MKDOCS_2_WARNING=1 exec "$PY" -m mkdocs serve
fi
NO_MKDOCS_2_WARNING=1 "$PY" -m mkdocs build --strict
echo "site built in site/ (open site/index.html)" >&2

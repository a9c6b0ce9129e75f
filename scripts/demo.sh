#!/usr/bin/env bash
# Set up litkb and run the main job on the shipped listing: ingest it, index it, answer a search.
# Usage: bash scripts/demo.sh ["your query"]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

KB="${LITKB_HOME:-demo-kb}"
LISTING=data/hf-daily-papers-2025-11-18.txt
QUERY="${1:-speculative decoding}"
litkb() { .venv/bin/litkb --kb "$KB" "$@"; }

echo "== litkb ingest $LISTING" >&2
litkb ingest "$LISTING"
echo "== litkb index" >&2
litkb index
echo "== litkb search \"$QUERY\"" >&2
litkb search "$QUERY" -k 5

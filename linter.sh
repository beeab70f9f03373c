#!/usr/bin/env bash
# Lint and format the tree with ruff (configured in pyproject.toml).
#   ./linter.sh          fix what can be fixed, then format
#   ./linter.sh --check  report only (CI)
set -euo pipefail
cd "$(dirname "$0")"
if [[ "${1:-}" == "--check" ]]; then
  ruff check .
  ruff format --check .
else
  ruff check --fix .
  ruff format .
fi

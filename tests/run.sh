#!/usr/bin/env bash
# The test suite. Outside CI: SQLite and the filesystem broker (service tests skip).
# With CI=true: that pass without the service tests, then the whole suite again
# against the local PostgreSQL and Redis, where nothing may skip for want of them.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=$(command -v uv 2>/dev/null || echo "python3 -m uv")
export VITRINE_VAR_DIR="${VITRINE_VAR_DIR:-$PWD/var/test}"
mkdir -p "$VITRINE_VAR_DIR"

# Lint first: it takes a second and fails faster than any test.
$UV run --frozen ruff check .
$UV run --frozen ruff format --check --quiet .

if [ "${CI:-}" = "true" ]; then
  env -u DATABASE_URL -u CELERY_BROKER_URL $UV run --frozen pytest -m "not services" "$@"
  export DATABASE_URL="${CI_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/vitrine}"
  export CELERY_BROKER_URL="${CI_CELERY_BROKER_URL:-redis://127.0.0.1:6379/15}"
  $UV run --frozen pytest "$@"
else
  $UV run --frozen pytest "$@"
fi

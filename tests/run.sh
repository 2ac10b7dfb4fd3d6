#!/usr/bin/env bash
# The test suite. Outside CI: SQLite and the filesystem broker (service tests skip).
# With CI=true: that pass without the service tests, then every test of the site, the
# workers and the imports again against the local PostgreSQL and Redis, where nothing may
# skip for want of them. tests/recengine is not run twice: the library never imports
# django or celery (tests/recengine/test_no_django.py), so no database can change it.
# Every pass runs even when an earlier one failed: the summary names each pass and its
# result, and the script exits non-zero if any of them failed.
set -uo pipefail
cd "$(dirname "$0")/.."
UV=$(command -v uv 2>/dev/null || echo "python3 -m uv")
export VITRINE_VAR_DIR="${VITRINE_VAR_DIR:-$PWD/var/test}"
mkdir -p "$VITRINE_VAR_DIR"

declare -a NAMES=() RESULTS=()
pass() {  # pass NAME COMMAND...: run one pass and remember how it ended
  local name=$1 started=$SECONDS rc
  shift
  echo "=== pass: $name ==="
  "$@"
  rc=$?
  NAMES+=("$name")
  RESULTS+=("$([ $rc = 0 ] && echo passed || echo "FAILED (exit $rc)") in $((SECONDS - started)) s")
  return 0
}

pass "lint (ruff check)" $UV run --frozen ruff check .
pass "format (ruff format --check)" $UV run --frozen ruff format --check --quiet .
if [ "${CI:-}" = "true" ]; then
  pass "sqlite + filesystem broker" \
    env -u DATABASE_URL -u CELERY_BROKER_URL $UV run --frozen pytest -m "not services" "$@"
  pass "postgresql + redis" env \
    DATABASE_URL="${CI_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/vitrine}" \
    CELERY_BROKER_URL="${CI_CELERY_BROKER_URL:-redis://127.0.0.1:6379/15}" \
    $UV run --frozen pytest tests/webapp tests/catalogue tests/api tests/integration tests/browser "$@"
else
  pass "tests" $UV run --frozen pytest "$@"
fi

echo "=== summary ==="
failed=0
for i in "${!NAMES[@]}"; do
  echo "${NAMES[$i]}: ${RESULTS[$i]}"
  case "${RESULTS[$i]}" in FAILED*) failed=1 ;; esac
done
exit $failed

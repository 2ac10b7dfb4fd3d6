#!/usr/bin/env bash
# The whole CI, RUNS times in a row from a fresh clone, with both cores kept busy by
# stress-ng (Debian's package). Prints each run's time and pass summary, and writes
# docs/results/ci-under-load.json.
#   bash docs/ci-under-load.sh [RUNS]     (default 3; needs stress-ng: apt-get install stress-ng)
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
ROOT=$PWD
COMMIT=$(git rev-parse HEAD)
WORK=$(mktemp -d /tmp/vitrine-ci-load.XXXX)
command -v stress-ng >/dev/null || { echo "stress-ng is not installed" >&2; exit 2; }
git clone --quiet "$ROOT" "$WORK/clone"
# The shared benchmark data sits beside the checkout; a clone elsewhere sees it by a link.
[ -d "$ROOT/../shared" ] && [ ! -e "$WORK/shared" ] && ln -s "$(cd "$ROOT/../shared" && pwd)" "$WORK/shared"
stress-ng --cpu "$(nproc)" --quiet &
STRESS=$!
trap 'kill $STRESS 2>/dev/null' EXIT
results=()
for run in $(seq 1 "$RUNS"); do
  started=$SECONDS
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  (cd "$WORK/clone" && CI=true bash .ci/run) > "$WORK/run-$run.log" 2>&1
  rc=$?
  seconds=$((SECONDS - started))
  summary=$(sed -n '/=== summary ===/,$p' "$WORK/run-$run.log" | tail -n +2 | tr '\n' ';')
  tests=$(grep -E "^=+ .*(passed|failed).* in " "$WORK/run-$run.log" | sed 's/=//g' | tr '\n' ';')
  echo "run $run: exit $rc in ${seconds} s (load average at start $load_before)"
  echo "  passes: $summary"
  echo "  pytest: $tests"
  results+=("{\"run\": $run, \"exit\": $rc, \"seconds\": $seconds, \"load_at_start\": $load_before, \"passes\": \"${summary//\"/}\", \"pytest\": \"${tests//\"/}\"}")
done
mkdir -p docs/results
{
  echo "{\"commit\": \"$COMMIT\", \"cores\": $(nproc), \"stress\": \"stress-ng --cpu $(nproc)\", \"runs\": ["
  (IFS=,; echo "${results[*]}")
  echo "]}"
} > docs/results/ci-under-load.json
echo "logs in $WORK; results in docs/results/ci-under-load.json"

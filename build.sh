#!/usr/bin/env bash
# FleetAspire's one entry point for setup and tests.
#
#   ./build.sh setup            install what the AppHost and the tests need (PostgreSQL, RabbitMQ, dotnet tools)
#   ./build.sh test             setup, build, then the fast tier and the lifecycle tier; ends with "N passed, N failed"
#   ./build.sh test fast        only the fast tier       (goal: under 10 minutes on 2 cores)
#   ./build.sh test lifecycle   only the lifecycle tier  (goal: under 45 minutes)
#   ./build.sh test steady      only the steady-state tests built with -p:ExcludeMachineTransition=true (also run
#                               by "test" and "test fast")
#
# Tests start their own throwaway PostgreSQL and RabbitMQ (see tests/FleetAspire.Testing); nothing needs to be
# running before, and nothing is left running after.
set -euo pipefail
cd "$(dirname "$0")"

FAST_TIER=(tests/FleetAspire.Agents.Tests tests/FleetAspire.Machines.Tests tests/FleetAspire.Snapshots.Tests tests/FleetAspire.Pool.Tests tests/FleetAspire.Transition.Tests tests/FleetAspire.SteadyState.Tests tests/FleetAspire.AppHost.Tests)
# The steady state once more, built with every MachineTransition/ folder left out: the code as it will be when the
# transition is deleted (docs/removing-the-transition.md).
STEADY_TIER=(tests/FleetAspire.SteadyState.Tests tests/FleetAspire.Agents.Tests tests/FleetAspire.Machines.Tests tests/FleetAspire.Pool.Tests tests/FleetAspire.Snapshots.Tests)
STEADY_PROPS=(-p:ExcludeMachineTransition=true)
LIFECYCLE_TIER=(tests/FleetAspire.Lifecycle.Tests)
RESULTS=TestResults

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*"; return 1; fi
}

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

setup() {
  command -v dotnet >/dev/null || { log "the .NET 10 SDK is required (https://dot.net)"; exit 1; }
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    log "installing PostgreSQL"; apt_install postgresql
  fi
  if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
    log "installing RabbitMQ"; apt_install rabbitmq-server
  fi
  # Debian's packages start no daemons here (no systemd); the AppHost and the tests run their own instances.
  dotnet tool restore >/dev/null
}

# Sums the <Counters> of every .trx under a folder; a project that produced no .trx counts as one failure.
count_results() {
  local dir=$1 passed=0 failed=0 skipped=0 line total executed p f
  for trx in "$dir"/*.trx; do
    [ -e "$trx" ] || continue
    line=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
    total=$(sed -E 's/.* total="([0-9]+)".*/\1/' <<<"$line")
    executed=$(sed -E 's/.* executed="([0-9]+)".*/\1/' <<<"$line")
    p=$(sed -E 's/.* passed="([0-9]+)".*/\1/' <<<"$line")
    f=$(sed -E 's/.* failed="([0-9]+)".*/\1/' <<<"$line")
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + total - executed))
  done
  echo "$passed $failed $skipped"
}

# Names the failed tests (tier and test, at most 40) just above the summary line: CI keeps only the tail of the log.
report_failures() {
  local trx tier names
  for trx in "$RESULTS"/*/*.trx; do
    [ -e "$trx" ] || continue
    tier=$(basename "$(dirname "$trx")")
    names=$(grep -o '<UnitTestResult [^>]*outcome="Failed"[^>]*>' "$trx" | sed -E 's/.* testName="([^"]*)".*/\1/' || true)
    if [ -n "$names" ]; then sed "s/^/FAILED [$tier] /" <<<"$names"; fi
  done | head -n 40 >&2 || true
  if grep -qs 'outcome="Failed"' "$RESULTS"/*/*.trx; then
    # What the machine had left when it failed: a full disk or memory explains a whole suite failing at once.
    { df -h "${TMPDIR:-/tmp}" . | tail -n +2; free -m | sed -n 2p; } | sed 's/^/MACHINE /' >&2 || true
  fi
}

# run_tier NAME BUDGET PROJECT... ; MSBuild properties of the build it runs in: the TIER_PROPS array.
TIER_PROPS=()
run_tier() {
  local name=$1 budget=$2; shift 2
  local dir="$RESULTS/$name" status=0 project
  rm -rf "$dir"; mkdir -p "$dir"
  local started=$SECONDS
  for project in "$@"; do
    log "$name tier: $project"
    if ! timeout --kill-after=30 "$budget" dotnet test "$project" --no-build -c Release ${TIER_PROPS[@]+"${TIER_PROPS[@]}"} \
        --logger "trx;LogFileName=$(basename "$project").trx" --results-directory "$dir" \
        --logger "console;verbosity=normal"; then
      status=1
      [ -e "$dir/$(basename "$project").trx" ] || echo '<Counters total="1" executed="1" passed="0" failed="1" />' > "$dir/$(basename "$project").trx"
    fi
  done
  log "$name tier took $((SECONDS - started)) s"
  return $status
}

test_cmd() {
  local which=${1:-all} status=0
  setup
  log "building"
  dotnet build FleetAspire.sln -c Release -nologo -v quiet
  rm -rf "$RESULTS"
  if [ "$which" = all ] || [ "$which" = fast ]; then run_tier fast 600 "${FAST_TIER[@]}" || status=1; fi
  if [ "$which" = all ] || [ "$which" = fast ] || [ "$which" = steady ]; then
    log "building the steady state (MachineTransition/ excluded)"
    local built=0
    for project in "${STEADY_TIER[@]}"; do
      dotnet build "$project" -c Release -nologo -v quiet "${STEADY_PROPS[@]}" || built=1
    done
    if [ "$built" -eq 0 ]; then
      TIER_PROPS=("${STEADY_PROPS[@]}"); run_tier steady 300 "${STEADY_TIER[@]}" || status=1; TIER_PROPS=()
    else
      status=1; mkdir -p "$RESULTS/steady"; echo '<Counters total="1" executed="1" passed="0" failed="1" />' > "$RESULTS/steady/build.trx"
    fi
  fi
  if [ "$which" = all ] || [ "$which" = lifecycle ]; then run_tier lifecycle 2700 "${LIFECYCLE_TIER[@]}" || status=1; fi
  local passed=0 failed=0 skipped=0 counts
  for dir in "$RESULTS"/*/; do
    read -r p f s < <(count_results "$dir")
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  done
  report_failures
  echo "$passed passed, $failed failed, $skipped skipped"
  [ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
}

case "${1:-}" in
  setup) setup ;;
  test) shift; test_cmd "${1:-all}" ;;
  *) sed -n '2,9p' "$0"; exit 2 ;;
esac

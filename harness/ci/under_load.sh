#!/bin/bash
# Runs the whole test suite again with both cores kept busy: a test that fails when the
# machine is loaded is a bug in the test or in the code, and this is where it shows.
#
#   harness/ci/under_load.sh [BUSY_LOOPS] [bazel test arguments...]
#
# Starts BUSY_LOOPS (default 2) shell loops that spin for the whole run, runs
# `bazel test //...` with cached results ignored, and stops the loops however the run ends.
# Exit status: bazel's.
set -uo pipefail
cd "$(dirname "$0")/../.."
loops="${1:-2}"
shift || true
[ $# -eq 0 ] && set -- //...

busy=()
stop_busy() { [ ${#busy[@]} -gt 0 ] && kill "${busy[@]}" 2>/dev/null; wait 2>/dev/null; }
trap stop_busy EXIT
trap "exit 130" INT TERM
for _ in $(seq "$loops"); do
  (while :; do :; done) &
  busy+=($!)
done
echo "under_load: ${#busy[@]} busy loops (pids ${busy[*]}), bazel test $*"
bazel test --nocache_test_results "$@"

#!/bin/bash
# Runs the fault suite and the protocol conformance suite against a running bridge, the way a
# user's CI job runs them against a deployment:
#
#   harness/ci/run_suites.sh OUT_DIR            # starts //:demo on a free port and checks it
#   harness/ci/run_suites.sh OUT_DIR ws://HOST:PORT/ws [BACKEND_CONTROL_HOST:PORT]
#                            [BRIDGE_CONTROL_HOST:PORT]
#                                               # checks a bridge already running; without
#                                               # the bridge's control the publishing channel
#                                               # scenarios and cases are skipped
#
# Writes OUT_DIR/faults.xml (JUnit), faults.json, conformance.json and conformance.html. Exit 0
# when no scenario and no case failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
source harness/ci/demo.sh
out="${1:-/tmp/bridge-suites}"
url="${2:-}"
control="${3:-}"
bridge_control="${4:-}"
mkdir -p "$out"

build_demo //harness/scenario:scenario_runner //harness/conformance:conformance || exit 2

demo_pid=""
if [ -z "$url" ]; then
  start_demo "$bin" "$out" run_suites || exit 2
fi
echo "run_suites: checking $url"

status=0
"$bin/harness/scenario/scenario_runner" --scenarios=harness/scenario/suite --url="$url" \
  --backend_control="$control" --control="$bridge_control" --junit="$out/faults.xml" --json="$out/faults.json" || status=1
"$bin/harness/conformance/conformance" --url="$url" --control="$bridge_control" \
  --report_dir="$out" || status=1

if [ -n "$demo_pid" ]; then
  kill -TERM "$demo_pid"
  wait "$demo_pid" || { echo "run_suites: the demo did not drain cleanly" >&2; status=1; }
fi
echo "run_suites: reports in $out"
exit "$status"

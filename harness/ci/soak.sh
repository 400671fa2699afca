#!/bin/bash
# A bounded soak of the bridge: //:demo runs for MINUTES while the fault suite runs against it
# over and over (connection churn, resets, closes, stalls, backend faults) together with a load
# of idle connections that come and go; the demo's resident memory is sampled after each round.
# Passes when every round of the suite passed (nothing lost or duplicated) and memory stayed
# flat: after a warm-up (the first third of the rounds: pools, caches, and sessions detached by
# the faults waiting out session_grace_ms), the last third's peak may not exceed the middle
# third's by more than GROWTH_PERCENT (default 5). Opt-in: it is not part of `bazel test //...`.
#
#   harness/ci/soak.sh OUT_DIR [MINUTES]       # default 10
set -uo pipefail
cd "$(dirname "$0")/../.."
source harness/ci/demo.sh
out="${1:-/tmp/bridge-soak}"
minutes="${2:-10}"
growth="${GROWTH_PERCENT:-5}"
mkdir -p "$out"

build_demo //harness/scenario:scenario_runner //bench/load:load || exit 2
start_demo "$bin" "$out" soak || exit 2
demo=$demo_pid
echo "soak: $url for $minutes min; samples in $out/rss.txt"

rss() { awk '/VmRSS/ {print $2}' "/proc/$demo/status"; }
: > "$out/rss.txt"
end=$(( $(date +%s) + minutes * 60 ))
round=0
failed=0
while [ "$(date +%s)" -lt "$end" ]; do
  round=$((round + 1))
  # Idle connections that come and go alongside the faults.
  "$bin/bench/load/load" --target="$url" --idle --connections=200 --hold=2 > "$out/idle.txt" 2>&1 &
  idle=$!
  if ! "$bin/harness/scenario/scenario_runner" --scenarios=harness/scenario/suite --url="$url" \
      --backend_control="$control" --seed="$round" --json="$out/round-$round.json" \
      > "$out/round-$round.txt" 2>&1; then
    failed=$((failed + 1))
    echo "soak: round $round failed (see $out/round-$round.txt)"
  fi
  wait "$idle"
  echo "$round $(rss)" >> "$out/rss.txt"
  echo "soak: round $round, rss $(rss) kB"
done

kill -TERM "$demo"
wait "$demo"
status=0
[ "$failed" -eq 0 ] || { echo "soak: $failed of $round rounds failed"; status=1; }
/usr/bin/python3 - "$out/rss.txt" "$growth" <<'PY' || status=1
import sys
samples = [int(l.split()[1]) for l in open(sys.argv[1]) if l.strip()]
growth = float(sys.argv[2])
if len(samples) < 6:
    print(f"soak: only {len(samples)} samples; run longer"); sys.exit(1)
third = len(samples) // 3
early, late = max(samples[third:2 * third]), max(samples[-third:])
print(f"soak: {len(samples)} rounds, rss peak {early} kB after the warm-up, {late} kB at the end "
      f"({100 * (late - early) / early:+.1f} %, allowed +{growth} %)")
sys.exit(0 if late <= early * (1 + growth / 100) else 1)
PY
exit "$status"

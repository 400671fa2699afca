#!/bin/bash
# The fan-out tool works end to end (no timing asserted): 50 subscribers on one channel of the
# bridge with the in-memory broker, publishes through BridgeControl for about a second at a
# fixed rate and then in bursts; every publication must reach every subscriber once (no
# missing, duplicate or out-of-order offsets, no errors) and the JSON must parse. The bridge
# binds port 0 for both listeners; the ports are read from its banner. The tool and the bridge
# must exit 0 (under a sanitizer, a report makes them exit otherwise).
set -euo pipefail
R="${TEST_SRCDIR}/${TEST_WORKSPACE}"
FANOUT="$R/bench/load/fanout"
CONFIG="$R/bench/load/bridge_load.textproto"
TMP="${TEST_TMPDIR:-$(mktemp -d)}"
# shellcheck source=tests/bench/smoke_lib.sh
source "$R/tests/bench/smoke_lib.sh"

check() {  # check NAME JSON-LINE
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
name, line = sys.argv[1], sys.argv[2]
r = json.loads(line)
zero = ["missing", "duplicates", "out_of_order", "unexpected", "epoch_mismatches", "errors",
        "broken", "publish_errors", "unparsed"]
ok = (r["ok"] and r["all_delivered"] and r["deliveries"] > 0 and r["p50_us"] > 0
      and r["publishes_ok"] == r["publishes"] and all(r[k] == 0 for k in zero))
print(("PASS " if ok else "FAIL ") + name + ": " + line)
sys.exit(0 if ok else 1)
PY
}

mkfifo "$TMP/bridge.out"
"$R/bridge/bridge" --config="$CONFIG" --control_listen=127.0.0.1:0 --io_threads=2 \
  > "$TMP/bridge.out" 2> "$TMP/bridge.err" &
BRIDGE=$!
trap 'kill $BRIDGE 2>/dev/null || true' EXIT
exec 3< "$TMP/bridge.out"
WS="" CONTROL=""
while [[ -z "$WS" || -z "$CONTROL" ]] && read -r LINE <&3; do
  [[ "$LINE" =~ (ws://127\.0\.0\.1:[0-9]+/ws) ]] && WS="${BASH_REMATCH[1]}"
  [[ "$LINE" =~ BridgeControl\ on\ (127\.0\.0\.1:[0-9]+) ]] && CONTROL="${BASH_REMATCH[1]}"
done
if [[ -z "$WS" || -z "$CONTROL" ]]; then
  echo "FAIL: the bridge printed no addresses"; cat "$TMP/bridge.err"; exit 1
fi
cat <&3 > /dev/null &  # keep draining its stdout

COMMON=(--targets="$WS" --control="$CONTROL" --pids="$BRIDGE" --subscribers=50 --per_source=20
        --threads=2 --json)
run_json fixed_rate "$FANOUT" "${COMMON[@]}" --rate=200 --warmup=0.2 --duration=1
run_json burst "$FANOUT" "${COMMON[@]}" --burst=20 --rounds=3 --channel_prefix=burst

trap - EXIT
stop_and_check bridge "$BRIDGE" "$TMP/bridge.err"

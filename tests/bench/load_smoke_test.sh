#!/bin/bash
# The load generator works end to end (no timing asserted): about a second of load with two
# connections on each path - echo_bridge, the full bridge in front of the demo backend, direct
# gRPC - and a few idle sessions, on the bridge and on setup_floor; each must complete round
# trips with no errors and print JSON that parses, and every server the tool starts must exit 0
# on SIGTERM (under a sanitizer, a report makes it exit otherwise). Every server binds port 0;
# ports are read from the banners.
set -euo pipefail
R="${TEST_SRCDIR}/${TEST_WORKSPACE}"
LOAD="$R/bench/load/load"
CONFIG="$R/bench/load/bridge_load.textproto"  # the call and message-rate limits raised
TMP="${TEST_TMPDIR:-$(mktemp -d)}"
# shellcheck source=tests/bench/smoke_lib.sh
source "$R/tests/bench/smoke_lib.sh"

check() {  # check NAME JSON-LINE: round trips > 0 (unless idle), errors 0, spawned exit 0
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
name, line = sys.argv[1], sys.argv[2]
r = json.loads(line)
if r["mode"] == "idle":
    ok = r["established"] > 0 and r["failures"] == 0 and r["rss_after"] > 0
else:
    ok = r["round_trips"] > 0 and r["errors"] == 0 and r["ok"] and r["p50_us"] > 0
ok = ok and r["spawned_exit"] in (-1, 0)  # -1: nothing spawned
print(("PASS " if ok else "FAIL ") + name + ": " + line)
sys.exit(0 if ok else 1)
PY
}

# The demo backend, its port from its banner (read through a fifo: no polling).
mkfifo "$TMP/backend.out"
"$R/harness/backend/demo_backend" --listen=127.0.0.1:0 > "$TMP/backend.out" &
BACKEND=$!
trap 'kill $BACKEND 2>/dev/null || true' EXIT
exec 3< "$TMP/backend.out"
read -r BANNER <&3
PORT="${BANNER##*:}"

COMMON=(--connections=2 --inflight=2 --warmup=0.1 --duration=1 --json)

run_json echo "$LOAD" "${COMMON[@]}" --spawn="$R/bench/load/echo_bridge --config=$CONFIG"
run_json echo_chat "$LOAD" "${COMMON[@]}" --kind=chat --spawn="$R/bench/load/echo_bridge --config=$CONFIG"
run_json grpc "$LOAD" "${COMMON[@]}" --target="grpc://127.0.0.1:$PORT"
BRIDGE="$R/bridge/bridge --config=$CONFIG --routes=demo.v1.Echo=127.0.0.1:$PORT --reflect"
run_json bridge "$LOAD" "${COMMON[@]}" --spawn="$BRIDGE"
run_json bridge_open_loop "$LOAD" "${COMMON[@]}" --rate=200 --spawn="$BRIDGE"
run_json bridge_repeat "$LOAD" "${COMMON[@]}" --kind=repeat --spawn="$BRIDGE"
# Open-loop chat: the slots' bidi calls must be open before the first paced stream_send.
run_json bridge_chat_open_loop "$LOAD" "${COMMON[@]}" --kind=chat --rate=200 --spawn="$BRIDGE"
run_json idle "$LOAD" --idle --connections=50 --per_source=20 --json --spawn="$BRIDGE"
# The idle figures' floor answers the same handshakes.
run_json idle_floor "$LOAD" --idle --connections=50 --per_source=20 --json \
  --spawn="$R/bench/load/setup_floor --io_threads=2"

# The backend, too, must exit 0 on SIGTERM.
trap - EXIT
stop_and_check demo_backend "$BACKEND"

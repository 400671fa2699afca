#!/bin/bash
# Sourced by the CI scripts: builds //:demo with the tools a script needs, and starts it on a
# free port with the CI config.
#
#   build_demo TARGET...      # //:demo and the targets; sets bin (bazel-bin)
#   start_demo BIN OUT_DIR NAME
#
# start_demo writes the demo's output to OUT_DIR/demo.log and sets demo_pid, url (its WebSocket
# URL), control (the demo backend's gRPC port, which serves harness.v1.BackendControl) and
# bridge_control (the bridge's BridgeControl, control_listen). It returns 1, with the log on
# stderr and the demo stopped, when the demo does not start in 30 s.
build_demo() {
  bazel build //:demo "$@" || return 1
  bin="$(bazel info bazel-bin 2>/dev/null)"
}

start_demo() {
  local bin="$1" out="$2" name="$3"
  : > "$out/demo.log"  # before the demo starts, so tail finds it
  "$bin/harness/backend/demo" --listen=127.0.0.1:0 --config=harness/ci/demo_ci.textproto \
    >> "$out/demo.log" 2>&1 &
  demo_pid=$!
  # The banner names the bound port.
  url=$(timeout 30 tail -n +1 -f "$out/demo.log" | grep -m1 -o 'ws://[^ ]*')
  control=$(grep -m1 -o 'backend demo.v1.Echo on [^ ]*' "$out/demo.log" | awk '{print $NF}')
  bridge_control=$(grep -m1 -o 'bridge: control on [^ ]*' "$out/demo.log" | awk '{print $NF}')
  if [ -z "$url" ]; then
    echo "$name: the demo did not start:" >&2
    cat "$out/demo.log" >&2
    kill "$demo_pid" 2>/dev/null
    return 1
  fi
}

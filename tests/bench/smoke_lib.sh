# Shared by the smoke tests: each tool and server they start must exit 0 (under a sanitizer, a
# report makes a process exit otherwise). Source it; `check NAME JSON-LINE` is the caller's.

# run_json NAME COMMAND...: runs COMMAND, which prints one JSON line; fails the test if COMMAND
# exits non-zero, else hands the line to check.
run_json() {
  local name="$1" line status=0
  shift
  line="$("$@")" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "FAIL $name: $(basename "$1") exited $status ($line)"
    exit 1
  fi
  check "$name" "$line"
}

# stop_and_check NAME PID [LOG]: SIGTERM, then the process must exit 0 (LOG printed if not).
stop_and_check() {
  local name="$1" pid="$2" log="${3:-}" status=0
  kill -TERM "$pid"
  wait "$pid" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "FAIL $name exited $status"
    [ -n "$log" ] && cat "$log"
    exit 1
  fi
  echo "PASS $name exited 0"
}

#!/bin/bash
# The shipped fault suite, run by the scenario runner binary against the in-process bridge, as
# CI runs it: every scenario passes, and the JUnit XML and JSON reports say so.
set -euo pipefail
runner="$1"
suite="$2"
out="${TEST_UNDECLARED_OUTPUTS_DIR:-$(mktemp -d)}"

status=0
"$runner" --scenarios="$suite" --junit="$out/faults.xml" --json="$out/faults.json" \
  > "$out/faults.txt" || status=$?
cat "$out/faults.txt"
if [ "$status" -ne 0 ]; then
  echo "fault_suite_test: the runner exited with $status" >&2
  exit 1
fi

expected=$(ls "$suite"/*.textproto | wc -l)
/usr/bin/python3 - "$out/faults.xml" "$out/faults.json" "$expected" <<'PY'
import json, sys
import xml.etree.ElementTree as ET
xml_path, json_path, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
suite = ET.parse(xml_path).getroot().find("testsuite")
cases = suite.findall("testcase")
assert len(cases) == expected, f"{len(cases)} testcases in the JUnit XML, expected {expected}"
assert suite.get("failures") == "0", suite.get("failures")
assert all(c.find("failure") is None for c in cases)
report = json.load(open(json_path))
assert report["passed"] == expected and report["failed"] == 0, report
for s in report["scenarios"]:
    assert s["callsLost"] == 0 and s["callsDuplicated"] == 0, s["name"]
    assert s["streamMessagesLost"] == 0 and s["streamMessagesDuplicated"] == 0, s["name"]
    assert s["publicationsLost"] == 0 and s["publicationsDuplicated"] == 0, s["name"]
    for r in s["reconnects"]:
        assert r["floorMs"] <= r["plannedMs"] <= r["ceilingMs"], (s["name"], r)
names = {s["name"]: s for s in report["scenarios"]}
# What each fault must look like at the client (docs/protocol.md's error table).
first_close = lambda n: (names[n]["closes"][0]["code"], names[n]["closes"][0]["category"])
assert first_close("reset_peer_1006") == (1006, "network_error")
assert first_close("ws_close_1011") == (1011, "service_unavailable")
assert names["ws_close_1011"]["reconnects"][0]["measuredMs"] >= 1000
assert first_close("drain_1001") == (1001, "server_shutdown")
assert first_close("auth_failure_not_retried") == (4500, "authentication_failed")
assert names["auth_failure_not_retried"]["reconnects"] == []
# Channels under a cut: all delivered once after a resume or a recovering resubscribe; a gap
# the history cannot fill is reported (recovered false) and counted as detected, not lost.
for n in ("channel_cut_resume", "channel_cut_no_resume_recovered"):
    c = names[n]["channels"][0]
    assert c["owed"] == 15 and c["received"] == 15 and c["unrecovered"] == 0, (n, c)
assert names["channel_cut_resume"]["channels"][0]["resubscribes"] == 0
assert names["channel_cut_no_resume_recovered"]["channels"][0]["recovered"] == "true"
small = names["channel_history_too_small"]
assert small["channels"][0]["recovered"] == "false", small["channels"]
assert small["publicationsUnrecovered"] == 10 and small["publicationsLost"] == 0, small
print(f"fault_suite_test: {expected} scenarios passed; reports in {xml_path}, {json_path}")
PY

#!/bin/bash
# Runs the bridge binary against Debian's python3-websockets (an independent client).
set -euo pipefail
BRIDGE="${TEST_SRCDIR}/${TEST_WORKSPACE}/bridge/bridge"
exec /usr/bin/python3 "${TEST_SRCDIR}/${TEST_WORKSPACE}/tests/e2e/python_client_e2e.py" "${BRIDGE}"

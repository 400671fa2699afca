#!/bin/bash
# Runs //:demo against Debian's python3-websockets (an independent client).
set -euo pipefail
exec /usr/bin/python3 "${TEST_SRCDIR}/${TEST_WORKSPACE}/tests/e2e/demo_e2e.py" \
  "${TEST_SRCDIR}/${TEST_WORKSPACE}/harness/backend/demo"

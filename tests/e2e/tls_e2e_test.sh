#!/bin/bash
# wss:// through //:demo against Debian's python3-websockets (tls_e2e.py).
set -euo pipefail
exec /usr/bin/python3 "${TEST_SRCDIR}/${TEST_WORKSPACE}/tests/e2e/tls_e2e.py" \
  "${TEST_SRCDIR}/${TEST_WORKSPACE}/harness/backend/demo"

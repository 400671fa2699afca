#!/bin/bash
# The JavaScript client from its packed tarball: types, Node, and headless Chromium against
# //:demo behind //:fault_proxy (client_package_e2e.py says what is checked).
set -euo pipefail
dir="${TEST_SRCDIR}/${TEST_WORKSPACE}"
exec /usr/bin/python3 "${dir}/tests/e2e/client_package_e2e.py" \
  "${dir}/harness/backend/demo" "${dir}/harness/proxy/fault_proxy" "${dir}/bridge/web/client" \
  "${dir}/tests/e2e/client_package" "${dir}/tests/e2e/chat_client_test.js"

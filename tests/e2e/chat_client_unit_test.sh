#!/bin/bash
# The unit tests of the JavaScript client (bridge/web/static/bridge-client.js), in Debian's
# headless Chromium.
set -euo pipefail
dir="${TEST_SRCDIR}/${TEST_WORKSPACE}"
exec /usr/bin/python3 "${dir}/tests/e2e/chat_client_unit_test.py" \
  "${dir}/bridge/web/static/bridge-client.js" "${dir}/tests/e2e/chat_client_test.js"

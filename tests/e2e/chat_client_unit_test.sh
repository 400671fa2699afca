#!/bin/bash
# The unit tests of the JavaScript client, in Debian's headless Chromium, run on the classic
# script the bridge serves (made from bridge/web/client/bridge-client.js).
set -euo pipefail
dir="${TEST_SRCDIR}/${TEST_WORKSPACE}"
exec /usr/bin/python3 "${dir}/tests/e2e/chat_client_unit_test.py" \
  "${dir}/bridge/web/bridge-client.js" "${dir}/tests/e2e/chat_client_test.js"

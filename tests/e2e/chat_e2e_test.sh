#!/bin/bash
# The chat demo (/chat) in two headless Chromium contexts against //:demo, one through
# //:fault_proxy, which cuts its connection: reconnect, resume, channel recovery.
set -euo pipefail
dir="${TEST_SRCDIR}/${TEST_WORKSPACE}"
exec /usr/bin/python3 "${dir}/tests/e2e/chat_e2e.py" \
  "${dir}/harness/backend/demo" "${dir}/harness/proxy/fault_proxy"

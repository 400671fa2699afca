#!/bin/bash
# permessage-deflate through //:demo (deflate_e2e.py).
set -euo pipefail
exec /usr/bin/python3 "${TEST_SRCDIR}/${TEST_WORKSPACE}/tests/e2e/deflate_e2e.py" \
  "${TEST_SRCDIR}/${TEST_WORKSPACE}/harness/backend/demo"

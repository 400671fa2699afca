#!/bin/bash
# The defaults config.proto documents are the ones `bridge --check_config` prints.
set -euo pipefail
root="${TEST_SRCDIR}/${TEST_WORKSPACE}"
exec /usr/bin/python3 "${root}/tests/docs/defaults_check.py" "${root}/bridge/bridge" \
  "${root}/proto/bridge/v1/config.proto"

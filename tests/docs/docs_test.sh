#!/bin/bash
# The documents of record: README length, links inside the repository, configuration.md fresh.
set -euo pipefail
exec /usr/bin/python3 "${TEST_SRCDIR}/${TEST_WORKSPACE}/tests/docs/docs_check.py" \
  "${TEST_SRCDIR}/${TEST_WORKSPACE}"

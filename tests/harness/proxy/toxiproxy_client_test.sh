#!/bin/bash
# The fault proxy driven by a real Toxiproxy client library (toxiproxy_client_test.js).
set -euo pipefail
root="${TEST_SRCDIR}/${TEST_WORKSPACE}"
modules=/var/cache/bridge-npm/node_modules
if [ ! -d "$modules/toxiproxy-node-client" ]; then
  echo "toxiproxy-node-client is not installed in $modules: run bash bazel/install_deps.sh" >&2
  exit 1
fi
exec node "${root}/tests/harness/proxy/toxiproxy_client_test.js" \
  "${root}/harness/proxy/fault_proxy" "$modules"

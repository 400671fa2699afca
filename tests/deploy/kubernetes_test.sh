#!/bin/bash
# The Kubernetes example: yamllint (strict) passes, its bridge.textproto is a valid config, the
# bridge container's args are flags the bridge accepts, and its probes and preStop hook use the
# admin paths on the port admin_listen names.
set -euo pipefail
bridge="$1"
manifest="$2"
lint_config="$3"
work="${TEST_TMPDIR:-$(mktemp -d)}"

yamllint -s -c "$lint_config" "$manifest"

/usr/bin/python3 - "$manifest" "$work" <<'PY'
import sys, yaml
manifest, work = sys.argv[1], sys.argv[2]
docs = [d for d in yaml.safe_load_all(open(manifest)) if d]
config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]["bridge.textproto"]
open(f"{work}/bridge.textproto", "w").write(config)
pod = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]
bridge = next(c for c in pod["containers"] if c["name"] == "bridge")
args = [a.replace("/etc/bridge/bridge.textproto", f"{work}/bridge.textproto") for a in bridge["args"]]
open(f"{work}/args", "w").write("\n".join(args) + "\n")
ports = {p["name"]: p["containerPort"] for p in bridge["ports"]}
assert bridge["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}, bridge
assert bridge["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}, bridge
assert bridge["lifecycle"]["preStop"]["httpGet"] == {"path": "/drain", "port": "admin"}, bridge
assert f'admin_listen: "0.0.0.0:{ports["admin"]}"' in config, config
assert f'listen: "0.0.0.0:{ports["ws"]}"' in config, config
# The grace period covers the drain: drain_timeout_ms plus shutdown_grace_ms (default 5000).
drain_ms = int(config.split("drain_timeout_ms:")[1].split()[0])
assert pod["terminationGracePeriodSeconds"] * 1000 >= drain_ms + 5000, pod
PY

mapfile -t args < "$work/args"
"$bridge" "${args[@]}" --check_config > "$work/effective.textproto"
grep -q 'admin_listen: "0.0.0.0:9090"' "$work/effective.textproto"
grep -q 'reflect: true' "$work/effective.textproto"
echo "kubernetes_test: manifest lints clean; its bridge config and flags are valid"

"""The processes of the browser end-to-end tests: //:demo with //:fault_proxy in front of it,
started on port 0 (the ports read from what they print), the proxy's HTTP API (Toxiproxy's
shape), and stopping each with a check that it exits 0."""
import json
import os
import re
import signal
import subprocess
import threading
import urllib.request

from e2e_checks import check

DEADLINE = 15.0


def start(argv, patterns, tmp):
    """Starts `argv` and reads its stdout until each regex in `patterns` matched a line;
    returns the process and the first group of each."""
    log_path = os.path.join(tmp, os.path.basename(argv[0]) + ".log")
    log = open(log_path, "w")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True)
    proc.log_path = log_path
    found = {}
    while len(found) < len(patterns):
        line = proc.stdout.readline()
        if not line:
            with open(log_path) as f:
                raise RuntimeError(f"{argv[0]} stopped: {f.read()}")
        for name, pattern in patterns.items():
            match = re.search(pattern, line)
            if match:
                found[name] = match.group(1)
    # The rest of its output is not needed, but must not fill the pipe.
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return proc, found


def stop(name, proc):
    """SIGTERM to a process from start(); checks that it exits 0 (and prints its log when
    not: its stderr says why, a sanitizer's report for one)."""
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=DEADLINE)
    check(f"{name} exits 0 on SIGTERM", code == 0, f"exit {code}")
    if code != 0:
        with open(proc.log_path) as f:
            print(f.read()[-20000:])


class FaultProxy:
    """The proxy's HTTP API (Toxiproxy's shape), for its proxy named `bridge`."""

    def __init__(self, api_port):
        self.base = f"http://127.0.0.1:{api_port}"

    def request(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=DEADLINE) as reply:
            return reply.status

    def cut(self):
        """Resets every connection through the proxy, and each new one, until restore()."""
        return self.request("POST", "/proxies/bridge/toxics", {
            "name": "cut", "type": "reset_peer", "stream": "downstream", "toxicity": 1,
            "attributes": {"timeout": 0}})

    def restore(self):
        return self.request("DELETE", "/proxies/bridge/toxics/cut")


class DemoBehindProxy:
    """//:demo on port 0, and //:fault_proxy's proxy `bridge` in front of its WebSocket port."""

    def __init__(self, demo, fault_proxy, tmp, demo_config=""):
        self.procs = []
        argv = [demo, "--listen=127.0.0.1:0"]
        if demo_config:  # BridgeConfig text merged over the demo's
            path = os.path.join(tmp, "e2e_demo.textproto")
            with open(path, "w") as f:
                f.write(demo_config)
            argv.append(f"--config={path}")
        proc, found = start(argv, {"bridge": r"ws://127\.0\.0\.1:(\d+)/ws"}, tmp)
        self.procs.append(("demo", proc))
        self.demo_log_path = proc.log_path
        self.bridge_port = found["bridge"]
        config = os.path.join(tmp, "e2e_faults.textproto")
        with open(config, "w") as f:
            f.write(f'proxies {{ name: "bridge" listen: "127.0.0.1:0" '
                    f'upstream: "127.0.0.1:{self.bridge_port}" }}\n')
        proc, found = start(
            [fault_proxy, f"--config={config}", "--api_listen=127.0.0.1:0", "--grpc_listen="],
            {"proxy": r"proxy bridge listening on 127\.0\.0\.1:(\d+)",
             "api": r"HTTP API on http://127\.0\.0\.1:(\d+)"}, tmp)
        self.procs.insert(0, ("fault proxy", proc))
        self.proxy_port = found["proxy"]
        self.proxy = FaultProxy(found["api"])

    def stop(self):
        """Stops each (see stop below)."""
        for name, proc in self.procs:
            stop(name, proc)

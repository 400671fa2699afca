"""The bridge binary, checked by an independent client: Debian's python3-websockets.

Starts //bridge:bridge on port 0, then checks the handshake, ping/pong, every bad input, the
timeouts, the size limit, SIGTERM, and start-up errors for a bad config. Exits non-zero on the
first failed check. Every wait has a deadline.
"""
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile

import websockets

from e2e_checks import check, summary

DEADLINE = 10.0
BRIDGE = sys.argv[1]


class Bridge:
    def __init__(self, *flags):
        self.proc = subprocess.Popen(
            [BRIDGE, "--listen=127.0.0.1:0", "--io_threads=2", *flags],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        match = re.search(r"ws://127\.0\.0\.1:(\d+)/ws", line)
        if not match:
            raise RuntimeError(f"bridge did not start: {line!r} {self.proc.stderr.read()}")
        self.url = f"ws://127.0.0.1:{match.group(1)}/ws"

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=DEADLINE)


async def recv_json(ws):
    return json.loads(await asyncio.wait_for(ws.recv(), DEADLINE))


async def wait_closed(ws):
    try:
        while True:
            await asyncio.wait_for(ws.recv(), DEADLINE)
    except websockets.ConnectionClosed:
        pass
    return ws.close_code, ws.close_reason


async def connect(url, **kwargs):
    ws = await asyncio.wait_for(websockets.connect(url, **kwargs), DEADLINE)
    await ws.send(json.dumps({"type": "connect", "clientId": "py-1", "version": "1",
                              "timestamp": "2026-11-22T10:00:00.123Z"}))
    confirm = await recv_json(ws)
    return ws, confirm


async def main_checks(bridge):
    ws, confirm = await connect(bridge.url, subprotocols=["bridge.v1.json"])
    check("subprotocol echoed", ws.subprotocol == "bridge.v1.json", ws.subprotocol)
    check("connect_confirm", confirm.get("type") == "connect_confirm"
          and confirm.get("clientId") == "py-1" and confirm.get("status") == "confirmed"
          and confirm.get("conversationId", "").startswith("s-")
          and confirm.get("heartbeatIntervalMs") == 30000
          and confirm.get("heartbeatTimeoutMs") == 60000
          and confirm.get("resumed") is False and confirm.get("seq") == 1, confirm)
    check("timestamp is RFC 3339 in ms",
          re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", confirm.get("timestamp", ""))
          is not None, confirm.get("timestamp"))

    await ws.send(json.dumps({"type": "ping", "timestamp": "2026-11-22T10:00:01Z"}))
    pong = await recv_json(ws)
    check("ping -> pong", pong.get("type") == "pong" and pong.get("seq") == 2, pong)

    bad = [
        ("invalid JSON", "{\"type\":", None),
        ("non-object", "[1,2]", None),
        ("missing type", json.dumps({"clientId": "x"}), "type"),
        ("unknown type", json.dumps({"type": "nope"}), "type"),
        ("wrong field type", json.dumps({"type": "ping", "timestamp": 5}), "timestamp"),
        ("wrong nested type", json.dumps({"type": "subscribe", "channel": "c",
                                          "since": {"offset": "x"}}), "since.offset"),
    ]
    seq = 2
    for name, text, field in bad:
        await ws.send(text)
        err = await recv_json(ws)
        seq += 1
        check(f"bad input: {name} -> protocol_error",
              err.get("type") == "error" and err.get("category") == "protocol_error"
              and err.get("retryable") is False and err.get("seq") == seq
              and (field is None or err.get("field") == field), err)
    await ws.send(json.dumps({"type": "ping"}))
    check("session stays up after bad input", (await recv_json(ws)).get("type") == "pong")

    pong_waiter = await ws.ping(b"ctl")
    await asyncio.wait_for(pong_waiter, DEADLINE)
    check("WebSocket ping control frame answered", True)

    # Invalid UTF-8 in a text frame: written below the library's checks.
    await ws.write_frame(True, 0x1, b"{\"type\":\"ping\",\"x\":\"\xc3\x28\"}")
    code, _ = await wait_closed(ws)
    check("invalid UTF-8 -> close 1007", code == 1007, code)

    ws = await asyncio.wait_for(websockets.connect(bridge.url), DEADLINE)
    await ws.send(json.dumps({"type": "ping"}))
    err = await recv_json(ws)
    code, reason = await wait_closed(ws)
    check("frame before connect -> error then 1002",
          err.get("category") == "protocol_error" and code == 1002, (err, code, reason))

    ws = await asyncio.wait_for(websockets.connect(bridge.url), DEADLINE)
    await ws.send(json.dumps({"type": "connect", "clientId": "x", "version": "9"}))
    err = await recv_json(ws)
    code, reason = await wait_closed(ws)
    check("unsupported version -> 4502", code == 4502 and err.get("field") == "version",
          (err, code))

    ws, _ = await connect(bridge.url, max_size=None)
    await ws.send("{\"type\":\"ping\",\"pad\":\"" + "a" * 5000 + "\"}")
    code, _ = await wait_closed(ws)
    check("frame over max_frame_bytes -> 1009", code == 1009, code)


async def timeout_checks(bridge):
    ws = await asyncio.wait_for(websockets.connect(bridge.url), DEADLINE)
    code, reason = await wait_closed(ws)
    check("no connect -> 4001 handshake_timeout", code == 4001 and reason == "handshake_timeout",
          (code, reason))
    ws, _ = await connect(bridge.url, ping_interval=None)
    code, reason = await wait_closed(ws)
    check("silence -> 4000 heartbeat_timeout", code == 4000 and reason == "heartbeat_timeout",
          (code, reason))


async def shutdown_check(bridge):
    ws, _ = await connect(bridge.url)
    bridge.proc.send_signal(signal.SIGTERM)
    code, reason = await wait_closed(ws)
    check("SIGTERM -> 1001 server_shutdown", code == 1001 and reason == "server_shutdown",
          (code, reason))
    check("SIGTERM -> exit 0", bridge.proc.wait(timeout=DEADLINE) == 0)


def startup_error(args, config_text, expect):
    with tempfile.NamedTemporaryFile("w", suffix=".textproto", delete=False) as f:
        f.write(config_text)
    proc = subprocess.run([BRIDGE, f"--config={f.name}", *args], capture_output=True, text=True,
                          timeout=DEADLINE)
    os.unlink(f.name)
    check(f"startup error names {expect}", proc.returncode != 0 and expect in proc.stderr,
          (proc.returncode, proc.stderr))


def main():
    bridge = Bridge("--max_frame_bytes=4096")
    try:
        asyncio.run(main_checks(bridge))
        metrics = subprocess.run(["/usr/bin/python3", "-c", (
            "import urllib.request,sys;"
            f"print(urllib.request.urlopen('{bridge.url.replace('ws://', 'http://')[:-3]}"
            "/metrics', timeout=10).read().decode())")], capture_output=True, text=True,
            timeout=DEADLINE).stdout
        check("bad input counted", 'bridge_bad_frames_total{reason="invalid_json"} 1' in metrics)
        check("1007 counted", "bridge_invalid_utf8_closes_total 1" in metrics)
        check("1009 counted", "bridge_too_big_closes_total 1" in metrics)
    finally:
        check("clean stop", bridge.stop() == 0)

    bridge = Bridge("--handshake_timeout_ms=200", "--heartbeat_interval_ms=100",
                    "--heartbeat_timeout_ms=300")
    try:
        asyncio.run(timeout_checks(bridge))
    finally:
        bridge.stop()

    asyncio.run(shutdown_check(Bridge()))

    startup_error([], "listen: \"127.0.0.1:0\"\nno_such_field: 1\n", "no_such_field")
    startup_error([], "heartbeat_interval_ms: \"soon\"\n", "heartbeat_interval_ms")
    startup_error(["--listen=localhost"], "", "listen")
    startup_error([], "heartbeat_interval_ms: 1000 heartbeat_timeout_ms: 10\n",
                  "heartbeat_timeout_ms")
    proc = subprocess.run([BRIDGE, "--config=/nonexistent/bridge.textproto"],
                          capture_output=True, text=True, timeout=DEADLINE)
    check("unreadable config file named", proc.returncode != 0
          and "/nonexistent/bridge.textproto" in proc.stderr, proc.stderr)

    return summary()


if __name__ == "__main__":
    sys.exit(main())

"""permessage-deflate (RFC 7692) end to end: //:demo with `permessage_deflate: true` against
Debian's python3-websockets, which offers the extension, and a raw socket client that reads the
frames as they are on the wire.

Checks: the extension is negotiated when offered (and not when the bridge does not enable it);
calls with large, repetitive payloads round-trip through compressed frames both ways; the reply
frame on the wire has RSV1 set and is much smaller than its payload; a client that does not
offer the extension gets plain frames; a message that inflates past max_frame_bytes closes with
1009. Every wait has a deadline.
"""
import asyncio
import base64
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile

import websockets

from e2e_checks import check, summary

DEADLINE = 10.0
DEMO = sys.argv[1]


def start_demo(d, deflate):
    path = f"{d}/bridge-{deflate}.textproto"
    with open(path, "w") as f:
        f.write(f"permessage_deflate: {'true' if deflate else 'false'}\n")
    proc = subprocess.Popen([DEMO, "--listen=127.0.0.1:0", f"--config={path}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(10):
        match = re.search(r"ws://127\.0\.0\.1:(\d+)/ws", proc.stdout.readline())
        if match:
            return proc, int(match.group(1))
    proc.kill()
    raise RuntimeError("demo did not start: " + proc.stderr.read())


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=DEADLINE) == 0


async def library_client(port, compression):
    """Connects with python3-websockets; returns the negotiated extensions and whether 20 calls
    with 16 KiB repetitive payloads came back intact."""
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws", compression=compression,
                                  open_timeout=DEADLINE, max_size=None) as ws:
        extensions = ws.response_headers.get("Sec-WebSocket-Extensions", "")
        await ws.send(json.dumps({"type": "connect", "clientId": "deflate", "version": "1"}))
        confirm = json.loads(await asyncio.wait_for(ws.recv(), DEADLINE))
        intact = confirm.get("type") == "connect_confirm"
        for i in range(20):
            text = (f"message {i} " * 2000)[:16384]
            await ws.send(json.dumps({"type": "message", "messageId": str(i),
                                      "method": "demo.v1.Echo/Say", "payload": {"text": text}}))
            reply = json.loads(await asyncio.wait_for(ws.recv(), DEADLINE))
            intact = intact and reply.get("type") == "response" and \
                reply["payload"]["text"] == text
        return extensions, intact


async def inflating_past_the_limit(port, size):
    """Sends one compressed message that inflates to more than `size` bytes (a few KiB on the
    wire); returns the close code the bridge answers with, or None if it never closes."""
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws", compression="deflate",
                                  open_timeout=DEADLINE, max_size=None) as ws:
        await ws.send(json.dumps({"type": "connect", "clientId": "inflate", "version": "1"}))
        await asyncio.wait_for(ws.recv(), DEADLINE)
        await ws.send(json.dumps({"type": "message", "messageId": "big",
                                  "method": "demo.v1.Echo/Say",
                                  "payload": {"text": "a" * size}}))
        try:
            while True:
                await asyncio.wait_for(ws.recv(), DEADLINE)
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


def recv_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise EOFError("connection closed")
        out += chunk
    return out


def send_text(sock, text):
    """One masked, uncompressed text frame."""
    payload = text.encode()
    mask = os.urandom(4)
    header = bytes([0x81])
    n = len(payload)
    if n < 126:
        header += bytes([0x80 | n])
    elif n < 65536:
        header += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        header += bytes([0x80 | 127]) + struct.pack("!Q", n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(header + mask + masked)


def read_frame(sock):
    """Returns (rsv1, opcode, payload length as sent)."""
    b0, b1 = recv_exact(sock, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", recv_exact(sock, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", recv_exact(sock, 8))[0]
    recv_exact(sock, n)
    return bool(b0 & 0x40), b0 & 0x0F, n


def raw_client(port, offer):
    """Upgrades by hand (offering permessage-deflate when `offer`), sends connect and one call
    of a 16 KiB repetitive text, and returns (extensions header, reply frame: rsv1, length)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n")
    if offer:
        request += "Sec-WebSocket-Extensions: permessage-deflate\r\n"
    sock.sendall((request + "\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    extensions = ""
    for line in head.decode().split("\r\n"):
        if line.lower().startswith("sec-websocket-extensions:"):
            extensions = line.split(":", 1)[1].strip()
    send_text(sock, json.dumps({"type": "connect", "clientId": "raw", "version": "1"}))
    read_frame(sock)  # connect_confirm
    send_text(sock, json.dumps({"type": "message", "messageId": "1", "method": "demo.v1.Echo/Say",
                                "payload": {"text": "z" * 16384}}))
    rsv1, opcode, length = read_frame(sock)
    sock.close()
    return extensions, rsv1, opcode, length


def main():
    with tempfile.TemporaryDirectory() as d:
        proc, port = start_demo(d, deflate=True)
        try:
            extensions, intact = asyncio.run(library_client(port, "deflate"))
            check("python3-websockets negotiates permessage-deflate",
                  "permessage-deflate" in extensions, extensions)
            check("16 KiB calls round-trip through compressed frames", intact)
            extensions, intact = asyncio.run(library_client(port, None))
            check("a client that does not offer it gets none", extensions == "", extensions)
            check("and its calls work uncompressed", intact)
            extensions, rsv1, opcode, length = raw_client(port, offer=True)
            check("on the wire: the reply frame is compressed (RSV1)", rsv1 and opcode == 1,
                  (rsv1, opcode))
            check("on the wire: 16 KiB of reply in under 1 KiB", length < 1024, length)
            _, rsv1, _, length = raw_client(port, offer=False)
            check("without the offer the reply frame is plain", not rsv1 and length > 16384,
                  (rsv1, length))
            # max_frame_bytes (1 MiB by default) bounds a message once inflated, not only on
            # the wire.
            code = asyncio.run(inflating_past_the_limit(port, 4 << 20))
            check("a compressed message inflating past max_frame_bytes closes 1009", code == 1009,
                  code)
        finally:
            check("demo exits 0 on SIGTERM", stop(proc))
        proc, port = start_demo(d, deflate=False)
        try:
            extensions, intact = asyncio.run(library_client(port, "deflate"))
            check("off by default: not negotiated even when offered", extensions == "",
                  extensions)
            check("and calls work", intact)
        finally:
            check("demo exits 0 on SIGTERM", stop(proc))
    return summary()


if __name__ == "__main__":
    sys.exit(main())

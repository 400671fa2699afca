"""wss:// end to end: //:demo with `tls { cert_file key_file }` and an independent client
(python3-websockets over Python's ssl), certificates made for the test with openssl.

Checks: a client trusting the test CA connects and calls; one that does not trust it is refused;
plain ws:// to the TLS port gets no session; a certificate replaced on disk is served to the
next connection without a restart. Every wait has a deadline.
"""
import asyncio
import json
import os
import ssl
import subprocess
import sys
import tempfile

import websockets

from e2e_checks import check, summary
from e2e_processes import start, stop

DEADLINE = 10.0
DEMO = sys.argv[1]


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_pki(d):
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-days", "36500", "-subj", "/CN=test-ca",
            "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem")
    with open(f"{d}/san.ext", "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name in ("bridge-one", "bridge-two"):
        openssl("req", *ec, "-subj", f"/CN={name}", "-keyout", f"{d}/{name}.key",
                "-out", f"{d}/{name}.csr")
        openssl("x509", "-req", "-days", "36500", "-in", f"{d}/{name}.csr", "-CA", f"{d}/ca.pem",
                "-CAkey", f"{d}/ca.key", "-CAcreateserial", "-extfile", f"{d}/san.ext",
                "-out", f"{d}/{name}.pem")


def install(d, name):
    for ext in ("pem", "key"):
        with open(f"{d}/{name}.{ext}") as src, open(f"{d}/served.{ext}", "w") as dst:
            dst.write(src.read())


async def session_cn(url, context):
    """Connects, checks a call, and returns the CN of the certificate the server showed."""
    async with websockets.connect(url, ssl=context, open_timeout=DEADLINE) as ws:
        await ws.send(json.dumps({"type": "connect", "clientId": "tls", "version": "1"}))
        confirm = json.loads(await asyncio.wait_for(ws.recv(), DEADLINE))
        await ws.send(json.dumps({"type": "message", "messageId": "1",
                                  "method": "demo.v1.Echo/Say", "payload": {"text": "secure"}}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), DEADLINE))
        ok = confirm.get("type") == "connect_confirm" and reply.get("type") == "response" \
            and reply["payload"]["text"] == "secure"
        cert = ws.transport.get_extra_info("peercert")
        subject = dict(x[0] for x in cert["subject"])
        return ok, subject.get("commonName")


async def refused(url, context):
    try:
        async with websockets.connect(url, ssl=context, open_timeout=DEADLINE) as ws:
            await ws.send(json.dumps({"type": "connect", "clientId": "x"}))
            await asyncio.wait_for(ws.recv(), DEADLINE)
        return False
    except (ssl.SSLError, OSError, websockets.exceptions.WebSocketException, EOFError,
            asyncio.TimeoutError):
        return True


async def checks(d, port):
    trusting = ssl.create_default_context(cafile=f"{d}/ca.pem")
    url = f"wss://localhost:{port}/ws"
    ok, cn = await session_cn(url, trusting)
    check("wss: connect, confirm and a call", ok)
    check("wss: the configured certificate", cn == "bridge-one", cn)

    check("a client that does not trust the CA is refused",
          await refused(url, ssl.create_default_context()))
    check("plain ws:// to the TLS port gets no session",
          await refused(f"ws://localhost:{port}/ws", None))

    install(d, "bridge-two")
    ok, cn = await session_cn(url, trusting)
    check("a renewed certificate is served without a restart", ok and cn == "bridge-two", cn)


def main():
    with tempfile.TemporaryDirectory() as d:
        make_pki(d)
        install(d, "bridge-one")
        with open(f"{d}/bridge.textproto", "w") as f:
            f.write(f'tls {{ cert_file: "{d}/served.pem" key_file: "{d}/served.key" '
                    f'reload_check_ms: 0 }}\n')
        proc, found = start([DEMO, "--listen=127.0.0.1:0", f"--config={d}/bridge.textproto"],
                            {"port": r"wss://127\.0\.0\.1:(\d+)/ws"}, d)
        try:
            asyncio.run(checks(d, found["port"]))
        finally:
            stop("demo", proc)
    return summary()


if __name__ == "__main__":
    sys.exit(main())

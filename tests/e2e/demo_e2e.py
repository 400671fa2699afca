"""The README's first command, checked by an independent client (python3-websockets).

Starts //:demo (the bridge and the demo backend, embedded config) on port 0 and calls each
demo method the way docs/protocol.md shows, plus an unknown method. Every wait has a deadline.
"""
import asyncio
import json
import sys
import tempfile

import websockets

from e2e_checks import check, summary
from e2e_processes import start, stop

DEADLINE = 10.0
DEMO = sys.argv[1]


async def recv(ws):
    return json.loads(await asyncio.wait_for(ws.recv(), DEADLINE))


async def send(ws, frame):
    await ws.send(json.dumps(frame))


async def checks(url):
    async with websockets.connect(url, subprotocols=["bridge.v1.json"]) as ws:
        await send(ws, {"type": "connect", "clientId": "py", "version": "1"})
        confirm = await recv(ws)
        check("handshake", confirm.get("type") == "connect_confirm", confirm)

        await send(ws, {"type": "message", "messageId": "say-1", "method": "demo.v1.Echo/Say",
                        "payload": {"text": "hello", "sample": {"i64": "9007199254740993",
                                                                "color": "COLOR_GREEN"}}})
        r = await recv(ws)
        check("Say -> response", r.get("type") == "response" and r.get("messageId") == "say-1"
              and r["payload"]["text"] == "hello"
              and r["payload"]["sample"]["i64"] == "9007199254740993"
              and r["payload"]["sample"]["color"] == "COLOR_GREEN"
              and r["payload"]["sequence"] == "1", r)

        await send(ws, {"type": "message", "messageId": "rep", "method": "demo.v1.Echo/Repeat",
                        "payload": {"text": "tick", "count": 3, "interval": "0.01s"}})
        frames = [await recv(ws) for _ in range(4)]
        check("Repeat -> 3 stream_message + stream_end",
              [f["type"] for f in frames] == ["stream_message"] * 3 + ["stream_end"]
              and [f["payload"]["sequence"] for f in frames[:3]] == ["1", "2", "3"]
              and frames[3]["status"]["code"] == 0, frames)

        await send(ws, {"type": "message", "messageId": "col", "method": "demo.v1.Echo/Collect"})
        for text in ("a", "b", "c"):
            await send(ws, {"type": "stream_send", "messageId": "col", "payload": {"text": text}})
        await send(ws, {"type": "stream_end", "messageId": "col"})
        r = await recv(ws)
        check("Collect -> response", r.get("type") == "response"
              and r["payload"] == {"texts": ["a", "b", "c"], "count": "3"}, r)

        await send(ws, {"type": "message", "messageId": "chat", "method": "demo.v1.Echo/Chat"})
        replies = []
        for text in ("hi", "there"):
            await send(ws, {"type": "stream_send", "messageId": "chat",
                            "payload": {"user": "py", "text": text}})
            replies.append(await recv(ws))
        await send(ws, {"type": "stream_end", "messageId": "chat"})
        end = await recv(ws)
        check("Chat -> a stream_message per message, then stream_end",
              [r["payload"]["text"] for r in replies] == ["hi", "there"]
              and end.get("type") == "stream_end" and end["status"]["code"] == 0, (replies, end))

        await send(ws, {"type": "message", "messageId": "nf", "method": "demo.v1.Echo/Nope",
                        "payload": {}})
        e = await recv(ws)
        check("unknown method -> not_found", e.get("type") == "error"
              and e.get("category") == "not_found" and e.get("messageId") == "nf"
              and e.get("retryable") is False, e)

        await send(ws, {"type": "message", "messageId": "bad", "method": "demo.v1.Echo/Say",
                        "payload": {"txet": "typo"}})
        e = await recv(ws)
        check("unknown payload field -> invalid_argument naming it",
              e.get("category") == "invalid_argument" and "txet" in e.get("message", ""), e)

        await send(ws, {"type": "message", "messageId": "late", "method": "demo.v1.Echo/Say",
                        "payload": {}, "timeoutMs": 50,
                        "metadata": {"demo-delay-ms": "5000"}})
        e = await recv(ws)
        check("deadline -> timeout", e.get("category") == "timeout" and e.get("grpcCode") == 4, e)

        await send(ws, {"type": "message", "messageId": "down", "method": "demo.v1.Echo/Say",
                        "payload": {}, "metadata": {"demo-fail-code": "14"}})
        e = await recv(ws)
        check("UNAVAILABLE -> service_unavailable, retryable",
              e.get("category") == "service_unavailable" and e.get("retryable") is True
              and e.get("grpcCode") == 14, e)

        await send(ws, {"type": "message", "messageId": "txt", "content": "plain"})
        r = await recv(ws)
        check("content -> default method", r.get("type") == "response"
              and r.get("content") == "plain", r)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        proc, found = start([DEMO, "--listen=127.0.0.1:0"],
                            {"port": r"ws://127\.0\.0\.1:(\d+)/ws"}, tmp)
        try:
            asyncio.run(checks(f"ws://127.0.0.1:{found['port']}/ws"))
        finally:
            stop("demo", proc)
    return summary()


if __name__ == "__main__":
    sys.exit(main())

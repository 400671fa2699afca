#!/usr/bin/env python3
"""Writes the seed inputs of session_fuzzer and session_grpc_fuzzer (tests/fuzz/session_driver.h).

Each seed is a short program in the driver's byte format: three option bytes, then actions.
The helpers below mirror the reads of session_driver.h (Input, SessionRun::Act, BuildFrame,
Payload, Token, Resume); a change there needs the same change here.

  tests/fuzz/make_session_corpus.py tests/fuzz/corpus/session tests/fuzz/corpus/session_grpc
"""
import base64
import hashlib
import os
import sys

# Input::Word, in order.
WORDS = [
    b"c-1", "Jürgen".encode(), b"a\nb", b"\r\n", b"tab\there", b"nul\0x", b"\x7f", b"\x01",
    b"%", b"%41%zz", "é".encode(), "日本".encode(), "😀".encode(), b"\xc3", b"\xff\xfe",
    b"\xed\xa0\x80", b"\xc0\xaf", b"\xc2\x80", b" ", b" lead and trail ", b"-bin", b"x-a",
    b"x-b-bin", b"grpc-timeout", b"x-bridge-client-id", b'"', b"\\", b"{}", b"null",
    b'[1,{"a":null}]', b"demo.v1.Echo/Say", b"Zm9vYmFy", b"Zm9vYg", b"not base64!",
    b"s-test-1", b"m-0", b"news", b"chat:room", b"1",
    b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", b"rojo=00f067aa0ba902b7",
]
# SessionRun::kMethods, SessionRun::MetadataKey's keys, SessionRun::MessageId's ids.
METHODS = ["demo.v1.Echo/Say", "/demo.v1.Echo/Say", "demo.v1.Echo/Repeat",
           "demo.v1.Echo/Collect", "demo.v1.Echo/Chat", "demo.v1.Echo/Nope", "demo.v1.Other/Say",
           "", "demo.v1.Echo/Say/x", "/"]
KEYS = ["x-a", "x-b", "authorization", "x-trace-bin", "x-b-bin", "-bin", "grpc-timeout",
        "x-bridge-client-id", "te", "host", "content-type", "X-Upper", "a b", "", "x-\u00fc",
        ":path", "x.y_z-0", "user-agent", "traceparent", "tracestate"]
IDS = ["m-0", "m-1", "m-2", "m-3", ""]

# Option bits (SessionRun::ReadOptions).
BINARY, BATCHING, NO_RESUME, SMALL_RESUME_BUFFER, LAZY_STRAND, RATE_LIMIT = 1, 2, 4, 8, 16, 32
FORWARD_X, FORWARD_ALL, FORWARD_LISTED = 1, 2, 3
JWT, JWT_REQUIRED, CHECKER = 4, 8, 12
DEFAULT_SAY, DEFAULT_CHAT, MAX_CALLS_2, SMALL_BUFFERS = 16, 48, 64, 128
NODE, UPGRADE_TOKEN = 1, 8


def word(text):
    data = text.encode() if isinstance(text, str) else text
    return bytes([0, WORDS.index(data)])


def raw(data):
    """Text() of exactly these bytes (mode 3: length and bytes)."""
    data = data.encode() if isinstance(data, str) else data
    assert len(data) < 255
    return bytes([3, len(data)]) + data


class Encoded(bytes):
    """Bytes already in the input's format, passed through by text()."""


def text(value):
    if isinstance(value, Encoded):
        return bytes(value)
    data = value.encode() if isinstance(value, str) else value
    return word(data) if data in WORDS else raw(data)


def long_text(unit, times):
    """Text() of a word repeated (mode 6; the count as Number() in two bytes)."""
    return Encoded(bytes([6, WORDS.index(unit.encode()), 1, times & 0xff, times >> 8]))


def number(n):
    assert n < 1 << 16
    return bytes([1, n & 0xff, n >> 8])


class Seed:
    def __init__(self, a=0, b=0, c=0, forwarded=(), upgrade_token=None, grpc=False):
        self.out = bytearray([a, b, c])
        self.binary = bool(a & BINARY)
        self.grpc = grpc  # session_grpc: upstream events are short waits for gRPC's
        for header_text, name_index in forwarded:
            self.out += text(header_text) + bytes([name_index])
        if c & UPGRADE_TOKEN:
            self.out += upgrade_token

    # ---- Frames (BuildFrame), each followed by SendFrame's reads.
    def send(self, frame, wrong=False, mangle=5):
        self.out += bytes([0]) + frame + self._encoding(wrong, mangle)
        return self

    def batch(self, frames, wrong=False):
        assert 1 <= len(frames) <= 4
        self.out += bytes([3, len(frames) - 1]) + b"".join(frames) + self._encoding(wrong, 5)
        return self

    def _encoding(self, wrong, mangle):
        enc = bytes([0 if wrong else 1])
        binary = self.binary != wrong
        if binary:
            return enc + bytes([1])
        # Deep nesting reads its depth, a cut its length.
        return enc + bytes([mangle]) + (bytes([40]) if mangle in (2, 3) else b"")

    def raw_frame(self, data, binary):
        assert len(data) < 255
        self.out += bytes([4, len(data)]) + data + bytes([1 if binary else 0])
        return self

    def connect(self, client_id=b"c-1", version=1, token=None, resume=None):
        f = bytes([0]) + text(client_id) + bytes([version])
        f += bytes([1]) + token if token is not None else bytes([0])
        if resume is None:
            f += bytes([1])
        else:
            conversation, last_seq = resume
            f += bytes([0])
            f += bytes([1]) if conversation is None else bytes([0]) + text(conversation)
            f += number(last_seq)
        return f

    def message(self, message_id="m-1", method="demo.v1.Echo/Say", payload=None, metadata=(),
                content=None, timeout=None):
        f = bytes([1]) + self._id(message_id)
        if method in METHODS:
            f += bytes([METHODS.index(method)])
        else:
            f += bytes([10]) + text(method)
        if content is not None:
            assert method == "" or method not in METHODS
            f += bytes([1]) + text(content)
        else:
            if method == "":
                f += bytes([0])
            f += payload if payload is not None else self.say_payload("hello")
        f += bytes([1, len(metadata)]) if len(metadata) < 4 else bytes([0, len(metadata) - 8])
        for key, value, *b64 in metadata:
            f += bytes([KEYS.index(key)]) if key in KEYS else bytes([len(KEYS)]) + text(key)
            f += text(value)
            if key.endswith("-bin") and len(key) > 4:
                f += bytes([1 if b64 else 0])
        f += bytes([0]) if timeout is None else bytes([1]) + number(timeout)
        return f

    def stream_send(self, message_id="m-1", chat=True, payload=None):
        return (bytes([5]) + self._id(message_id) + bytes([0 if chat else 1]) +
                (payload if payload is not None else self.chat_payload("hi")))

    def stream_end(self, message_id="m-1"):
        return bytes([7]) + self._id(message_id) + bytes([1])

    def cancel(self, message_id="m-1"):
        return bytes([8]) + self._id(message_id)

    def subscribe(self, channel="news"):
        return bytes([9]) + self._channel(channel) + bytes([0, 0])

    def unsubscribe(self, channel="news"):
        return bytes([10]) + self._channel(channel)

    def ack(self):
        return bytes([11, 0])

    def ping(self):
        return bytes([12, 0])

    def refresh(self, token):
        return bytes([14]) + token

    def _id(self, message_id):
        if message_id in IDS:
            return bytes([IDS.index(message_id)])
        return bytes([5]) + text(message_id)

    @staticmethod
    def _channel(channel):
        channels = ["news", "chat:1", "", "a b", "ch\u00e4nnel"]
        if channel in channels:
            return bytes([channels.index(channel)])
        return bytes([5]) + text(channel)

    # ---- Payloads (Payload): kind 0 with a method that picks the type.
    def say_payload(self, say_text):
        return bytes([0]) + text(say_text) + bytes([0])

    def chat_payload(self, chat_text):
        return bytes([0]) + text("ann") + text(chat_text)

    def repeat_payload(self, repeat_text, count):
        return bytes([0]) + text(repeat_text) + bytes([0, count, 0])

    # ---- Tokens (Token).
    @staticmethod
    def token(sub, expiry=None, methods=False, wrong_key=False):
        t = bytes([2 if wrong_key else 0]) + text(sub)
        t += bytes([0]) if expiry is None else bytes([1, expiry])
        t += bytes([0 if methods else 1])
        return t

    # ---- Other actions.
    def pass_time(self, step):
        self.out += bytes([5, step])  # kSteps: 0, 1ms, 5ms, 100ms, 1s, 10s, 31s, 61s, 5min, 2h
        return self

    def upstream(self, call, event, *reads):
        """Fake upstream: call index (of those started), event 0 headers, 1 message, 4 writes
        drained, 5 finish. For session_grpc: a short wait for gRPC's events instead."""
        if self.grpc:
            self.out += bytes([6, 3])
        else:
            self.out += bytes([6, call, event]) + b"".join(reads)
        return self

    def headers(self, call, entries):
        return self.upstream(call, 0, self._response_metadata(entries))

    def reply(self, call, reply_bytes):
        """A reply built field by field (Reply: not raw bytes, then each field's reads)."""
        return self.upstream(call, 1, bytes([1]) + reply_bytes)

    def finish(self, call, code_index, message, trailers=(), cancelled=None):
        """The end of a call; `cancelled` only for a call the session cancelled (True: ends
        CANCELLED, False: `code_index` anyway)."""
        if cancelled:
            reads = bytes([1])
        else:
            reads = (b"" if cancelled is None else bytes([0])) + bytes([code_index])
        reads += text(message) + self._response_metadata(trailers) + b"\x01"
        return self.upstream(call, 5, reads)

    @staticmethod
    def _response_metadata(entries):
        keys = ["x-a", "x-b-bin", "grpc-status-details-bin", "x-trace", "content-type", "x-c"]
        out = bytes([len(entries)])
        for key, value in entries:
            out += bytes([keys.index(key)]) + text(value)
        return out

    def run_tasks(self, n=8):
        self.out += bytes([8, n - 1])
        return self

    def buffered(self, now_index, peak_index):
        self.out += bytes([9, now_index, peak_index])
        return self

    def close(self, client_ended):
        self.out += bytes([10, 1 if client_ended else 0])
        return self

    def resume(self, client_id=b"c-1", honest=True):
        self.out += bytes([11]) + text(client_id) + bytes([0, 1, 5 if honest else 0, 1])
        return self

    def control_ping(self):
        self.out += bytes([12])
        return self

    def drain(self):
        self.out += bytes([13, 0])
        return self

    def shutdown(self):
        self.out += bytes([13, 1])
        return self

    def publish(self, channel_index=0, data_index=1):
        self.out += bytes([13, 2, channel_index, data_index])
        return self

    def answer_check(self, user, ok=True):
        self.out += bytes([14, 0 if ok else 2]) + (b"" if ok else text("no"))
        self.out += text(user) + b"\x00\x00"  # no method limit, no validity period
        return self

    def next_timer(self):
        self.out += bytes([15])
        return self

    def data(self):
        return bytes(self.out)


def say_reply(reply_text):
    """SayResponse fields: text set, sample not, sequence set, received_at not."""
    return bytes([1]) + text(reply_text) + bytes([0, 1]) + number(1) + bytes([0])


def chat_reply(user, chat_text):
    """ChatMessage fields: user, text, sent_at not."""
    return bytes([1]) + text(user) + bytes([1]) + text(chat_text) + bytes([0])


def collect_reply(first, count):
    """CollectResponse fields: texts (one), count."""
    return bytes([1]) + text(first) + bytes([1]) + number(count)


def seeds(grpc):
    """Seed name -> bytes; `grpc`: for session_grpc_fuzzer."""
    out = {}

    def new(*args, **kwargs):
        return Seed(*args, grpc=grpc, **kwargs)

    def add(name, seed):
        out[name] = seed.data()

    for enc_name, a in (("json", 0), ("binary", BINARY)):
        s = new(a)
        add(f"{enc_name}-clientid-non-ascii", s.send(s.connect("Jürgen")).send(s.message()))
        s = new(a)
        add(f"{enc_name}-clientid-control", s.send(s.connect(b"\x01")).send(s.message()))
        s = new(a)
        add(f"{enc_name}-metadata-newline",
            s.send(s.connect()).send(s.message(metadata=[("x-a", b"a\nb")])))
        s = new(a)
        add(f"{enc_name}-metadata-non-ascii",
            s.send(s.connect()).send(s.message(metadata=[("x-b", "Jürgen"), ("x-a", "é")])))
        s = new(a)
        add(f"{enc_name}-metadata-bin",
            s.send(s.connect()).send(s.message(metadata=[
                ("x-b-bin", base64.b64encode("Jürgen\0\n".encode()).decode(), True),
                ("x-trace-bin", b"not base64!"), ("x-a", b"ok")])))
        s = new(a)
        add(f"{enc_name}-metadata-reserved-keys",
            s.send(s.connect()).send(s.message(metadata=[
                ("grpc-timeout", b"1S"), ("x-bridge-client-id", b"spoof"), ("X-Upper", b"v")])))
        s = new(a)
        add(f"{enc_name}-trace-context",
            s.send(s.connect()).send(s.message(metadata=[
                ("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
                ("tracestate", b"rojo=00f067aa0ba902b7")])))
        s = new(a)
        add(f"{enc_name}-trace-context-bad",
            s.send(s.connect()).send(s.message(metadata=[
                ("traceparent", b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01")])))
        s = new(a)
        add(f"{enc_name}-metadata-huge",
            s.send(s.connect()).send(s.message(metadata=[("x-a", long_text("x-a", 4000))])))
        s = new(a, FORWARD_ALL)
        add(f"{enc_name}-unary-reply",
            s.send(s.connect()).send(s.message())
            .headers(0, [("x-a", b"v"), ("x-b-bin", b"\xff\0")])
            .reply(0, say_reply("Jürgen"))
            .finish(0, 0, b"", [("x-trace", b"t"), ("grpc-status-details-bin", b"\x08\x01")]))
        s = new(a, FORWARD_ALL)
        add(f"{enc_name}-reply-metadata-not-utf8",
            s.send(s.connect()).send(s.message()).headers(0, [("x-a", b"\xff\xfe\n")])
            .reply(0, say_reply("x")).finish(0, 0, b"", [("x-trace", b"\xc3(\x00")]))
        s = new(a, FORWARD_X)
        add(f"{enc_name}-unary-error-status",
            s.send(s.connect()).send(s.message())
            .finish(0, 8, b"\xff\xfe bad \n message", [("x-c", "é")]))
        s = new(a, FORWARD_ALL)
        add(f"{enc_name}-repeat-stream",
            s.send(s.connect()).send(s.message(method="demo.v1.Echo/Repeat",
                                               payload=s.repeat_payload("r", 3)))
            .headers(0, [("x-a", b"a")]).reply(0, say_reply("one")).reply(0, say_reply("two"))
            .finish(0, 0, b"", [("x-b-bin", b"\x00\x01")]))
        s = new(a)
        add(f"{enc_name}-chat-bidi",
            s.send(s.connect()).send(s.message(method="demo.v1.Echo/Chat",
                                               payload=s.chat_payload("first")))
            .send(s.stream_send(chat=True)).send(s.stream_end())
            .reply(0, chat_reply("ann", "echo"))
            .finish(0, 0, b""))
        s = new(a)
        add(f"{enc_name}-collect-client-stream",
            s.send(s.connect()).send(s.message(method="demo.v1.Echo/Collect", payload=b"\x07"))
            .send(s.stream_send(chat=False, payload=s.say_payload("a")))
            .send(s.stream_send(chat=False, payload=s.say_payload("b")))
            .send(s.stream_end()).reply(0, collect_reply("a", 2))
            .finish(0, 0, b""))
        s = new(a)
        add(f"{enc_name}-cancel",
            s.send(s.connect()).send(s.message(method="demo.v1.Echo/Repeat",
                                               payload=s.repeat_payload("r", 9)))
            .send(s.cancel()).finish(0, 2, b"cancelled", cancelled=True).send(s.cancel("m-2")))
        s = new(a)
        add(f"{enc_name}-resume",
            s.send(s.connect()).send(s.ping()).send(s.ack()).close(False).pass_time(4)
            .resume().send(s.ping()))
        s = new(a)
        add(f"{enc_name}-resume-with-call",
            s.send(s.connect()).send(s.message()).close(False).reply(0, say_reply("x"))
            .finish(0, 0, b"").resume("Jürgen").send(s.message("m-2")))
        s = new(a | RATE_LIMIT)
        add(f"{enc_name}-rate-limit",
            s.send(s.connect()).batch([s.message("m-0"), s.message("m-1"), s.message("m-2"),
                                       s.message("m-3")])
            .batch([s.ping(), s.ping(), s.message("m-3"), s.cancel()]))
        s = new(a, JWT)
        add(f"{enc_name}-token-sub-non-ascii",
            s.send(s.connect(token=Seed.token("Jürgen"))).send(s.message()))
        s = new(a, JWT)
        add(f"{enc_name}-token-sub-newline",
            s.send(s.connect(token=Seed.token(b"a\nb", expiry=40))).send(s.message())
            .send(s.refresh(Seed.token("é"))).pass_time(5).send(s.message("m-2")))
        s = new(a, CHECKER)
        add(f"{enc_name}-auth-check-user",
            s.send(s.connect()).answer_check("Jürgen").send(s.message()))
        s = new(a, 0, NODE)
        add(f"{enc_name}-channels",
            s.send(s.connect()).send(s.subscribe()).publish(0, 4).send(s.unsubscribe())
            .send(s.subscribe("ch\u00e4nnel")))
        s = new(a)
        add(f"{enc_name}-batch",
            s.send(s.connect()).batch([s.ping(), s.message(), s.cancel(), s.ack()]))
        s = new(a | BATCHING)
        add(f"{enc_name}-outbound-batching",
            s.send(s.connect()).send(s.ping()).send(s.message("m-9"))
            .send(s.ping()).pass_time(2))
        s = new(a, SMALL_BUFFERS)
        add(f"{enc_name}-slow-consumer",
            s.send(s.connect()).send(s.message(method="demo.v1.Echo/Repeat",
                                               payload=s.repeat_payload("r", 3)))
            .buffered(7, 7).reply(0, say_reply("one")).run_tasks().next_timer()
            .send(s.ping()).run_tasks())
        s = new(a)
        add(f"{enc_name}-heartbeat-timeout-resume",
            s.send(s.connect()).pass_time(7).close(False).resume())
        s = new(a)
        add(f"{enc_name}-drain",
            s.send(s.connect()).send(s.message()).drain().send(s.message("m-2"))
            .finish(0, 0, b"").run_tasks())
        s = new(a, DEFAULT_SAY)
        add(f"{enc_name}-content",
            s.send(s.connect()).send(s.message(method="", content="Jürgen"))
            .reply(0, say_reply("Jürgen")).finish(0, 0, b""))
        s = new(a)
        add(f"{enc_name}-wrong-encoding", s.send(s.connect()).send(s.ping(), wrong=True))
        s = new(a, 0, 4, forwarded=[("Jürgen", 1), ("10.0.0.1", 0)])
        add(f"{enc_name}-forwarded-headers", s.send(s.connect()).send(s.message()))

    # JSON only: the encoder's variations (unknown nested field, snake_case, deep nesting,
    # cut short, integers as strings), raw text.
    for mangle in range(5):
        s = new(0)
        add(f"json-mangle-{mangle}",
            s.send(s.connect(resume=(None, 3)), mangle=mangle)
            .send(s.message(timeout=500), mangle=mangle))
    s = new(0)
    add("json-raw", s.raw_frame(b'{"type":"connect","clientId":"J\\u00fcrgen"}', False)
        .raw_frame(b'{"type":"message","messageId":"m-1","method":"demo.v1.Echo/Say",'
                   b'"payload":{"text":"x"},"metadata":{"x-a":"a\\nb"}}', False))
    s = new(BINARY)
    add("binary-raw", s.raw_frame(b"\x52\x05\x0a\x03c-1", True).raw_frame(b"\xff\xff\xff", True))
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: make_session_corpus.py SESSION_CORPUS_DIR SESSION_GRPC_CORPUS_DIR")
    for directory, grpc in ((sys.argv[1], False), (sys.argv[2], True)):
        os.makedirs(directory, exist_ok=True)
        for name, data in seeds(grpc).items():
            digest = hashlib.sha1(data).hexdigest()[:12]
            with open(os.path.join(directory, f"seed-{name}-{digest}"), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()

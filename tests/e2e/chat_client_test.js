// Unit tests of the JavaScript client (bridge/web/client/bridge-client.js): the pure parts
// (backoff, the error table, seq and ack bookkeeping) and the client's logic against a fake
// WebSocket and a fake clock, so no test waits for real time. They use the global
// BridgeClient: load the classic script first, or set it from the ES module.
// runBridgeClientTests() resolves with {passed, failed, results: [{name, ok, error}]}.
'use strict';

(function (global) {
  const tests = [];
  const test = (name, fn) => tests.push({ name, fn });

  function assert(condition, message) {
    if (!condition) throw new Error(message || 'assertion failed');
  }
  function eq(actual, expected, message) {
    const a = JSON.stringify(actual);
    const e = JSON.stringify(expected);
    if (a !== e) throw new Error((message ? message + ': ' : '') + 'got ' + a + ', want ' + e);
  }

  // ---- Fakes ----

  // Timers that run only when the test advances the clock.
  class FakeClock {
    constructor() {
      this.now = 0;
      this.timers = new Map();
      this.nextId = 1;
      this.setTimeout = (fn, ms) => {
        const id = this.nextId++;
        this.timers.set(id, { at: this.now + Math.max(0, ms), fn, id });
        return id;
      };
      this.clearTimeout = (id) => this.timers.delete(id);
    }
    // Runs every timer due within `ms`, in time order, then sets the clock there.
    advance(ms) {
      const end = this.now + ms;
      for (;;) {
        let next = null;
        for (const t of this.timers.values()) {
          if (t.at <= end && (next === null || t.at < next.at || (t.at === next.at && t.id < next.id))) {
            next = t;
          }
        }
        if (next === null) break;
        this.timers.delete(next.id);
        this.now = next.at;
        next.fn();
      }
      this.now = end;
    }
    // The delay of the pending timer set last (the reconnect, after a drop).
    lastDelay() {
      let last = null;
      for (const t of this.timers.values()) if (last === null || t.id > last.id) last = t;
      return last === null ? null : last.at - this.now;
    }
  }

  // A WebSocket the test plays the server of.
  function fakeWebSocketClass() {
    class FakeWebSocket {
      constructor(url, protocols) {
        this.url = url;
        this.protocols = protocols;
        this.sent = [];
        this.closed = null;
        FakeWebSocket.instances.push(this);
      }
      send(data) {
        this.sent.push(JSON.parse(data));
      }
      close(code, reason) {
        this.closed = { code, reason };
      }
      // Server side:
      open() {
        this.onopen && this.onopen({});
      }
      receive(frame) {
        this.onmessage && this.onmessage({ data: JSON.stringify(frame) });
      }
      drop(code, reason) {
        this.onclose && this.onclose({ code: code || 1006, reason: reason || '' });
      }
      frames(type) {
        return this.sent.filter((f) => f.type === type);
      }
    }
    FakeWebSocket.instances = [];
    FakeWebSocket.last = () => FakeWebSocket.instances[FakeWebSocket.instances.length - 1];
    return FakeWebSocket;
  }

  // A client on fakes; `random` defaults to 0.5.
  function setup(options) {
    const clock = new FakeClock();
    const WS = fakeWebSocketClass();
    const client = new BridgeClient('ws://bridge.test/ws', Object.assign({
      clientId: 'c-1',
      WebSocket: WS,
      setTimeout: clock.setTimeout,
      clearTimeout: clock.clearTimeout,
      random: () => 0.5,
    }, options || {}));
    const states = [];
    client.on('state', (s) => states.push(s));
    return { client, clock, WS, states };
  }

  function confirm(ws, fields) {
    ws.receive(Object.assign({
      type: 'connect_confirm', clientId: 'c-1', conversationId: 's-1', status: 'confirmed',
      heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 2000, resumed: false, seq: 1,
    }, fields || {}));
  }

  // Connects and confirms; returns the socket.
  function connected(t, fields) {
    t.client.connect();
    const ws = t.WS.last();
    ws.open();
    confirm(ws, fields);
    return ws;
  }

  // Lets promise callbacks run.
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

  // ---- Backoff ----

  test('backoff ceiling doubles from base up to max', () => {
    const o = { baseMs: 1000, maxMs: 30000 };
    eq([1, 2, 3, 4, 5, 6, 7].map((n) => BridgeClient.backoffCeiling(o, n)),
       [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });

  test('full jitter stays in [0, ceiling) and honours the floor', () => {
    const o = { baseMs: 1000, maxMs: 30000, jitter: 'full' };
    for (let n = 1; n <= 8; n++) {
      const ceiling = BridgeClient.backoffCeiling(o, n);
      for (const r of [0, 0.25, 0.5, 0.999999]) {
        const d = BridgeClient.backoffDelay(o, n, () => r, 0);
        assert(d >= 0 && d < ceiling, `attempt ${n} r ${r}: ${d} not in [0, ${ceiling})`);
      }
    }
    eq(BridgeClient.backoffDelay(o, 1, () => 0, 700), 700, 'floor');
    eq(BridgeClient.backoffDelay(o, 3, () => 0.5, 700), 2000, 'above the floor');
  });

  test('equal jitter stays in [ceiling/2, ceiling); none is the ceiling', () => {
    const o = { baseMs: 100, maxMs: 1000, jitter: 'equal' };
    for (const r of [0, 0.5, 0.999]) {
      const d = BridgeClient.backoffDelay(o, 2, () => r, 0);
      assert(d >= 100 && d < 200, `${d}`);
    }
    eq(BridgeClient.backoffDelay({ baseMs: 100, maxMs: 1000, jitter: 'none' }, 4, () => 0.1, 0), 800);
  });

  // ---- The error table ----

  test('close codes map to categories and reconnect as docs/protocol.md says', () => {
    const want = {
      1000: ['normal_closure', false], 1001: ['server_shutdown', true],
      1002: ['protocol_error', false], 1003: ['protocol_error', false],
      1006: ['network_error', true], 1007: ['protocol_error', false],
      1008: ['permission_denied', false], 1009: ['message_too_big', false],
      1011: ['service_unavailable', true], 1012: ['service_unavailable', true],
      1013: ['service_unavailable', true], 1014: ['service_unavailable', true],
      4000: ['timeout', true], 4001: ['timeout', true], 4002: ['slow_consumer', true],
      4029: ['rate_limited', true], 4500: ['authentication_failed', false],
      4501: ['permission_denied', false], 4502: ['protocol_error', false],
      4503: ['limit_exceeded', false],
    };
    for (const [code, [category, reconnect]] of Object.entries(want)) {
      const info = BridgeClient.closeCodeInfo(Number(code));
      eq([info.category, info.reconnect], [category, reconnect], 'close ' + code);
    }
    eq(BridgeClient.closeCodeInfo(1011).minDelayMs, 1000, '1011 waits at least 1 s');
    eq(BridgeClient.closeCodeInfo(1012).minDelayMs, 0);
  });

  test('unknown close codes: 4000-4499 reconnect, others do not', () => {
    eq(BridgeClient.closeCodeInfo(4123).reconnect, true);
    eq(BridgeClient.closeCodeInfo(4499).reconnect, true);
    eq(BridgeClient.closeCodeInfo(4500 + 77).reconnect, false);
    eq(BridgeClient.closeCodeInfo(1005).reconnect, false);
    eq(BridgeClient.closeCodeInfo(3000).reconnect, false);
  });

  test('gRPC codes map to categories; only some are retryable', () => {
    const want = {
      1: 'cancelled', 2: 'internal', 3: 'invalid_argument', 4: 'timeout', 5: 'not_found',
      6: 'invalid_argument', 7: 'permission_denied', 8: 'rate_limited', 9: 'invalid_argument',
      10: 'cancelled', 11: 'invalid_argument', 12: 'not_found', 13: 'internal',
      14: 'service_unavailable', 15: 'internal', 16: 'authentication_failed',
    };
    for (const [code, category] of Object.entries(want)) {
      eq(BridgeClient.categoryForGrpcCode(Number(code)), category, 'grpc ' + code);
    }
    eq(BridgeClient.categoryForGrpcCode(0), null);
    const retryable = Object.keys(BridgeClient.CATEGORIES).filter(BridgeClient.isRetryable);
    eq(retryable.sort(), ['rate_limited', 'service_unavailable']);
  });

  // ---- Seq and acks ----

  test('seq tracker drops repeats and says when an ack is due', () => {
    const s = new BridgeClient.SeqTracker(3);
    eq([1, 2, 2, 3, 1].map((n) => s.accept(n)), [true, true, false, true, false]);
    eq(s.accept(undefined), true, 'frames without seq pass');
    eq(s.lastSeq, 3);
    eq(s.ackDue(false), 3, 'three frames unacknowledged');
    eq(s.ackDue(false), 0, 'nothing new');
    s.accept('4');
    eq(s.ackDue(false), 0, 'one frame is not enough');
    eq(s.ackDue(true), 4, 'the timer acks whatever arrived');
  });

  test('acks go out every ackEveryFrames frames and on the ack timer', () => {
    const t = setup({ ackEveryFrames: 2, ackIntervalMs: 5000, heartbeatIntervalMs: 60000,
                      heartbeatTimeoutMs: 120000 });
    const ws = connected(t);
    ws.receive({ type: 'pong', seq: 2 });
    eq(ws.frames('ack'), [{ type: 'ack', seq: 2 }]);
    ws.receive({ type: 'pong', seq: 3 });
    eq(ws.frames('ack').length, 1);
    t.clock.advance(5000);
    eq(ws.frames('ack'), [{ type: 'ack', seq: 2 }, { type: 'ack', seq: 3 }]);
    t.clock.advance(5000);
    eq(ws.frames('ack').length, 2, 'no ack when nothing arrived');
  });

  // ---- Handshake ----

  test('connect carries clientId, version 1 and a timestamp; the token goes in connect', () => {
    const t = setup({ token: 'tok' });
    t.client.connect();
    const ws = t.WS.last();
    eq(ws.protocols, ['bridge.v1.json']);
    eq(t.states.map((s) => s.state), ['connecting']);
    ws.open();
    const c = ws.sent[0];
    eq([c.type, c.clientId, c.version, c.token], ['connect', 'c-1', '1', 'tok']);
    assert(!Number.isNaN(Date.parse(c.timestamp)) && c.timestamp.endsWith('Z'), c.timestamp);
    assert(c.resume === undefined, 'no resume on a first connect');
    confirm(ws);
    eq(t.states.map((s) => s.state), ['connecting', 'confirmed']);
    eq(t.states[1].resumed, false);
  });

  test('a JSON mapping asked for goes in connect; none by default', () => {
    const asked = setup({ jsonMapping: { protoNames: true, enumsAsNumbers: true } });
    eq(connected(asked).sent[0].jsonMapping, { protoNames: true, enumsAsNumbers: true });
    eq('jsonMapping' in connected(setup()).sent[0], false);
  });

  test('a token can go in the bearer subprotocol pair instead', () => {
    const t = setup({ token: () => 'jwt.x.y', tokenIn: 'subprotocol' });
    t.client.connect();
    const ws = t.WS.last();
    eq(ws.protocols, ['bridge.v1.json', 'bearer', 'jwt.x.y']);
    ws.open();
    eq(ws.sent[0].token, undefined);
  });

  test('a path URL is taken on the page host', () => {
    const client = new BridgeClient('/ws');
    const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    eq(client.url, scheme + location.host + '/ws');
  });

  // ---- Calls ----

  test('frames sent before the confirm wait and go out in order', async () => {
    const t = setup();
    t.client.connect();
    const ws = t.WS.last();
    const a = t.client.call('demo.v1.Echo/Say', { text: 'a' });
    const b = t.client.call('demo.v1.Echo/Say', { text: 'b' });
    ws.open();
    eq(ws.sent.map((f) => f.type), ['connect'], 'nothing but connect before the confirm');
    confirm(ws);
    const messages = ws.frames('message');
    eq(messages.map((f) => f.payload.text), ['a', 'b']);
    ws.receive({ type: 'response', messageId: messages[1].messageId, payload: { text: 'B' }, seq: 2 });
    ws.receive({ type: 'response', messageId: messages[0].messageId, payload: { text: 'A' }, seq: 3 });
    eq([await a, await b], [{ text: 'A' }, { text: 'B' }]);
  });

  test('a failed call rejects with category, retryable, grpcCode and message', async () => {
    const t = setup();
    const ws = connected(t);
    const p = t.client.call('demo.v1.Echo/Say', {}, { timeoutMs: 5000 });
    const m = ws.frames('message')[0];
    eq(m.timeoutMs, 5000);
    ws.receive({ type: 'error', messageId: m.messageId, category: 'service_unavailable',
                 retryable: true, grpcCode: 14, message: 'down', retryAfterMs: 300, seq: 2 });
    let error = null;
    try { await p; } catch (e) { error = e; }
    assert(error instanceof Error && error.name === 'BridgeError', String(error));
    eq([error.category, error.retryable, error.grpcCode, error.message, error.retryAfterMs],
       ['service_unavailable', true, 14, 'down', 300]);
  });

  test('a call past its deadline rejects locally with timeout and is cancelled', async () => {
    const t = setup({ callTimeoutSlackMs: 100, heartbeatTimeoutMs: 100000 });
    const ws = connected(t);
    const p = t.client.call('demo.v1.Echo/Say', {}, { timeoutMs: 1000 });
    t.clock.advance(1100);
    let error = null;
    try { await p; } catch (e) { error = e; }
    eq([error && error.category, error && error.retryable], ['timeout', false]);
    eq(ws.frames('cancel').map((f) => f.messageId), [ws.frames('message')[0].messageId]);
  });

  test('server streaming: each message, then the end', async () => {
    const t = setup();
    const ws = connected(t);
    const got = [];
    const p = t.client.stream('demo.v1.Echo/Repeat', { count: 2 }, (m) => got.push(m.sequence));
    const id = ws.frames('message')[0].messageId;
    eq(p.messageId, id);
    ws.receive({ type: 'stream_message', messageId: id, payload: { sequence: '1' }, seq: 2 });
    ws.receive({ type: 'stream_message', messageId: id, payload: { sequence: '2' }, seq: 3 });
    ws.receive({ type: 'stream_end', messageId: id, status: { code: 0 }, seq: 4 });
    const end = await p;
    eq([got, end.status.code], [['1', '2'], 0]);
  });

  test('a stream that ends with a status other than OK rejects', async () => {
    const t = setup();
    const ws = connected(t);
    const p = t.client.stream('demo.v1.Echo/Repeat', {}, () => {});
    const id = ws.frames('message')[0].messageId;
    ws.receive({ type: 'stream_end', messageId: id, status: { code: 14, message: 'gone' }, seq: 2 });
    let error = null;
    try { await p; } catch (e) { error = e; }
    eq([error.category, error.grpcCode, error.retryable], ['service_unavailable', 14, true]);
  });

  test('batch frames are unpacked in order; a publication without channel is a push', () => {
    const t = setup();
    const ws = connected(t);
    const seen = [];
    t.client.subscribe('news', { onPublication: (d) => seen.push('pub ' + d.n) });
    t.client.on('push', (d) => seen.push('push ' + d.n));
    ws.receive({ type: 'batch', frames: [
      { type: 'subscribed', channel: 'news', offset: '0', epoch: 'e', seq: 2 },
      { type: 'publication', channel: 'news', offset: '1', epoch: 'e', data: { n: 1 }, seq: 3 },
      { type: 'publication', data: { n: 2 }, seq: 4 },
      { type: 'publication', channel: 'news', offset: '2', epoch: 'e', data: { n: 3 }, seq: 5 },
    ] });
    eq(seen, ['pub 1', 'push 2', 'pub 3']);
    eq(t.client.seq.lastSeq, 5);
  });

  // ---- Heartbeat and reconnect ----

  test('pings every interval; no frame within the timeout is a network_error', () => {
    const t = setup();
    const ws = connected(t);
    t.clock.advance(1000);
    eq(ws.frames('ping').length, 1);
    ws.receive({ type: 'pong', seq: 2 });
    t.clock.advance(1000);
    eq(ws.frames('ping').length, 2);
    t.clock.advance(999);
    eq(t.client.state, 'confirmed', 'alive: the last frame came 1999 ms ago');
    t.clock.advance(1);
    const last = t.states[t.states.length - 1];
    eq([last.state, last.category, last.willReconnect, last.attempt, last.delayMs],
       ['disconnected', 'network_error', true, 1, 500]);
    assert(ws.closed !== null, 'the dead socket was closed');
  });

  test('reconnect delays follow the backoff and stop after the attempts', () => {
    const t = setup({ reconnect: { baseMs: 100, maxMs: 250, attempts: 3 }, random: () => 0.999 });
    connected(t).drop(1006);
    const delays = [];
    for (let i = 0; i < 3; i++) {
      const d = t.states[t.states.length - 1];
      delays.push(d.delayMs);
      t.clock.advance(d.delayMs);
      t.WS.last().drop(1006); // refused
    }
    eq(delays, [99, 199, 249]);
    const last = t.states[t.states.length - 1];
    eq([last.state, last.category], ['closed', 'network_error']);
    eq(t.WS.instances.length, 4, 'one connection and three attempts');
  });

  test('retryAfterMs from the session error is the least delay', () => {
    const t = setup({ random: () => 0 });
    const ws = connected(t);
    ws.receive({ type: 'error', category: 'server_shutdown', retryable: false,
                 retryAfterMs: 4000, message: 'draining', seq: 2 });
    ws.drop(1001, 'shutdown');
    const d = t.states[t.states.length - 1];
    eq([d.category, d.delayMs], ['server_shutdown', 4000]);
  });

  test('1011 waits at least a second', () => {
    const t = setup({ random: () => 0 });
    connected(t).drop(1011);
    eq(t.states[t.states.length - 1].delayMs, 1000);
  });

  test('terminal closes do not reconnect; pending calls fail with that category', async () => {
    for (const [code, category] of [[4500, 'authentication_failed'], [4501, 'permission_denied'],
                                    [1002, 'protocol_error'], [1000, 'normal_closure']]) {
      const t = setup();
      const ws = connected(t);
      const p = t.client.call('demo.v1.Echo/Say', {});
      ws.drop(code);
      let error = null;
      try { await p; } catch (e) { error = e; }
      eq(t.states.slice(-2).map((s) => [s.state, s.category, s.willReconnect]),
         [['disconnected', category, false], ['closed', category, undefined]], 'close ' + code);
      eq(error && error.category, category);
      eq(t.WS.instances.length, 1, 'no attempt after ' + code);
    }
  });

  // ---- Resume ----

  test('after a drop: resume with the last seq, replays deduplicated, unanswered calls resent', async () => {
    const t = setup();
    const ws = connected(t);
    const answered = t.client.call('demo.v1.Echo/Say', { text: 'one' });
    const unanswered = t.client.call('demo.v1.Echo/Say', { text: 'two' });
    const [m1, m2] = ws.frames('message');
    ws.receive({ type: 'response', messageId: m1.messageId, payload: { text: 'one' }, seq: 2 });
    ws.drop(1006);
    const queued = t.client.call('demo.v1.Echo/Say', { text: 'three' });
    t.clock.advance(t.states[t.states.length - 1].delayMs);
    const ws2 = t.WS.last();
    ws2.open();
    eq(ws2.sent[0].resume, { conversationId: 's-1', lastSeq: 2 });
    ws2.receive({ type: 'response', messageId: m1.messageId, payload: { text: 'dup' }, seq: 2 });
    confirm(ws2, { resumed: true, seq: 3 });
    eq(ws2.frames('message').map((f) => [f.messageId, f.payload.text]),
       [[m2.messageId, 'two'], [ws2.frames('message')[1].messageId, 'three']],
       'the unanswered call again with its messageId, then the queued one');
    eq(t.states[t.states.length - 1].resumed, true);
    ws2.receive({ type: 'response', messageId: m2.messageId, payload: { text: 'two' }, seq: 4 });
    eq((await answered).text, 'one');
    eq((await unanswered).text, 'two');
    ws2.receive({ type: 'response', messageId: ws2.frames('message')[1].messageId, payload: { text: 'three' }, seq: 5 });
    eq((await queued).text, 'three');
  });

  test('not resumed: calls sent fail with network_error (idempotent ones go again), channels rejoin since their offset', async () => {
    const t = setup();
    const ws = connected(t);
    const plain = t.client.call('demo.v1.Echo/Say', { text: 'p' });
    const idem = t.client.call('demo.v1.Echo/Say', { text: 'i' }, { idempotent: true });
    const pubs = [];
    const subscribed = [];
    t.client.subscribe('chat:r', { onPublication: (d, p) => pubs.push(p.offset),
                                   onSubscribed: (s) => subscribed.push(s) });
    ws.receive({ type: 'subscribed', channel: 'chat:r', offset: '4', epoch: 'ep', seq: 2 });
    ws.receive({ type: 'publication', channel: 'chat:r', offset: '5', epoch: 'ep', data: {}, seq: 3 });
    ws.drop(1006);
    t.clock.advance(t.states[t.states.length - 1].delayMs);
    const ws2 = t.WS.last();
    ws2.open();
    confirm(ws2, { conversationId: 's-2', resumed: false, seq: 1 });
    let error = null;
    try { await plain; } catch (e) { error = e; }
    eq([error && error.category, error && error.retryable], ['network_error', true]);
    eq(ws2.frames('message').map((f) => f.payload.text), ['i'], 'only the idempotent call again');
    eq(ws2.frames('subscribe'), [{ type: 'subscribe', channel: 'chat:r', since: { offset: 5, epoch: 'ep' } }]);
    eq(t.client.seq.lastSeq, 1, 'a new session counts from 1');
    ws2.receive({ type: 'subscribed', channel: 'chat:r', offset: '7', epoch: 'ep', recovered: true, seq: 2 });
    ws2.receive({ type: 'publication', channel: 'chat:r', offset: '6', epoch: 'ep', data: {}, seq: 3 });
    ws2.receive({ type: 'publication', channel: 'chat:r', offset: '7', epoch: 'ep', data: {}, seq: 4 });
    ws2.receive({ type: 'publication', channel: 'chat:r', offset: '7', epoch: 'ep', data: {}, seq: 5 });
    eq(pubs, [5, 6, 7], 'recovered publications once each');
    eq([subscribed[1].recovered, subscribed[1].since], [true, { offset: 5, epoch: 'ep' }]);
    ws2.receive({ type: 'response', messageId: ws2.frames('message')[0].messageId, payload: { text: 'i' }, seq: 6 });
    eq((await idem).text, 'i');
  });

  test('a subscription from a known position asks for it, then takes what comes after it', () => {
    const t = setup();
    const ws = connected(t);
    const pubs = [];
    const subscribed = [];
    t.client.subscribe('feed', { since: { offset: 41, epoch: 'ep' },
                                 onPublication: (d, p) => pubs.push(p.offset),
                                 onSubscribed: (s) => subscribed.push(s) });
    eq(ws.frames('subscribe'), [{ type: 'subscribe', channel: 'feed', since: { offset: 41, epoch: 'ep' } }]);
    ws.receive({ type: 'subscribed', channel: 'feed', offset: '43', epoch: 'ep', recovered: true, seq: 2 });
    ws.receive({ type: 'publication', channel: 'feed', offset: '41', epoch: 'ep', data: {}, seq: 3 });
    ws.receive({ type: 'publication', channel: 'feed', offset: '42', epoch: 'ep', data: {}, seq: 4 });
    ws.receive({ type: 'publication', channel: 'feed', offset: '43', epoch: 'ep', data: {}, seq: 5 });
    eq(pubs, [42, 43], 'nothing at or before the position');
    eq([subscribed[0].recovered, subscribed[0].since], [true, { offset: 41, epoch: 'ep' }]);
  });

  test('a refused subscribe goes to that channel', () => {
    const t = setup();
    const ws = connected(t);
    const errors = [];
    const events = [];
    t.client.on('error', (e) => events.push(e.category));
    t.client.subscribe('nope', { onError: (e) => errors.push(e.category) });
    ws.receive({ type: 'error', category: 'not_found', retryable: false, field: 'channel',
                 message: 'channel nope: unknown', seq: 2 });
    eq([errors, events], [['not_found'], []]);
    t.client.subscribe('nope', {}); // may subscribe again
  });

  test('unsubscribe before the subscribe went out sends neither', () => {
    const t = setup();
    t.client.subscribe('a', {});
    t.client.unsubscribe('a');
    const ws = connected(t);
    eq(ws.sent.map((f) => f.type), ['connect']);
  });

  // ---- Client streaming and bidi ----

  // Reads a call's replies with `for await` until it ends: {replies, error}.
  async function drain(call) {
    const replies = [];
    try {
      for await (const r of call) replies.push(r);
      return { replies, error: null };
    } catch (e) {
      return { replies, error: e };
    }
  }

  // The frames of one call the socket got, as [type, text of the payload]: what a stream sent.
  const callFrames = (ws, id) => ws.sent.filter((f) => f.messageId === id)
    .map((f) => (f.payload ? [f.type, f.payload.text] : [f.type]));

  test('a call\'s traceparent goes in its metadata, next to the metadata given', () => {
    const t = setup();
    const ws = connected(t);
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const metadata = { 'x-k': 'v' };
    t.client.call('demo.v1.Echo/Say', { text: 'a' }, { metadata, traceparent });
    t.client.bidiStream('demo.v1.Echo/Chat', { traceparent });
    const [say, chat] = ws.frames('message');
    eq(say.metadata, { 'x-k': 'v', traceparent });
    eq(metadata, { 'x-k': 'v' }, 'the caller\'s object is left as it was');
    eq(chat.metadata, { traceparent });
  });

  test('bidi: message, stream_sends and the half-close in order; replies by for await', async () => {
    const t = setup();
    const ws = connected(t);
    const chat = t.client.bidiStream('demo.v1.Echo/Chat', { metadata: { 'x-k': 'v' } });
    const id = chat.messageId;
    eq(chat.send({ text: 'a' }), true);
    chat.send({ text: 'b' });
    chat.end();
    chat.end(); // once only
    eq(callFrames(ws, id), [['message'], ['stream_send', 'a'], ['stream_send', 'b'], ['stream_end']]);
    const m = ws.frames('message')[0];
    eq([m.method, m.metadata, 'payload' in m], ['demo.v1.Echo/Chat', { 'x-k': 'v' }, false],
       'no first request message unless one is given');
    const reading = drain(chat);
    ws.receive({ type: 'stream_message', messageId: id, payload: { text: 'A' }, seq: 2 });
    ws.receive({ type: 'stream_message', messageId: id, payload: { text: 'B' }, seq: 3 });
    ws.receive({ type: 'stream_end', messageId: id, status: { code: 0 }, trailers: { t: '1' }, seq: 4 });
    const { replies, error } = await reading;
    eq([replies.map((r) => r.text), error], [['A', 'B'], null]);
    eq((await chat.done).trailers, { t: '1' });
    eq(chat.send({ text: 'late' }), false, 'send after the end: false, nothing sent');
    eq(ws.frames('stream_send').length, 2);
  });

  test('bidi callbacks: onMessage, then onEnd or onError; a first payload goes in the message', async () => {
    const t = setup();
    const ws = connected(t);
    const got = [];
    const ok = t.client.bidiStream('demo.v1.Echo/Chat', {
      payload: { text: 'first' },
      onMessage: (r) => got.push(r.text),
      onEnd: (e) => got.push('end ' + e.status.code),
      onError: (e) => got.push('error ' + e.category),
    });
    eq(ws.frames('message')[0].payload, { text: 'first' });
    ws.receive({ type: 'stream_message', messageId: ok.messageId, payload: { text: 'F' }, seq: 2 });
    ws.receive({ type: 'stream_end', messageId: ok.messageId, status: { code: 0 }, seq: 3 });
    await ok.done;
    await settle();
    const bad = t.client.bidiStream('demo.v1.Echo/Chat', {
      onError: (e) => got.push('error ' + e.category + ' ' + e.grpcCode),
    });
    ws.receive({ type: 'stream_message', messageId: bad.messageId, payload: { text: 'X' }, seq: 4 });
    ws.receive({ type: 'error', messageId: bad.messageId, category: 'internal', retryable: false,
                 grpcCode: 13, message: 'failed mid-stream', seq: 5 });
    await settle();
    eq(got, ['F', 'end 0', 'error internal 13']);
    const { replies, error } = await drain(bad);
    eq([replies.map((r) => r.text), error && error.category], [['X'], 'internal'],
       'the iterator gives what came, then throws the error');
  });

  test('client streaming: done is the one reply; send after end() throws', async () => {
    const t = setup();
    const ws = connected(t);
    const collect = t.client.clientStream('demo.v1.Echo/Collect', { payload: { text: 'a' } });
    collect.send({ text: 'b' });
    collect.end();
    let thrown = null;
    try { collect.send({ text: 'c' }); } catch (e) { thrown = e; }
    assert(thrown !== null, 'send after end() throws');
    eq(callFrames(ws, collect.messageId), [['message', 'a'], ['stream_send', 'b'], ['stream_end']]);
    ws.receive({ type: 'response', messageId: collect.messageId, payload: { texts: ['a', 'b'] }, seq: 2 });
    eq(await collect.done, { texts: ['a', 'b'] });
  });

  test('send() and end() need a streaming request: not on a server stream', () => {
    const t = setup();
    connected(t);
    const repeat = t.client.serverStream('demo.v1.Echo/Repeat', { count: 1 });
    let thrown = 0;
    for (const f of [() => repeat.send({}), () => repeat.end()]) {
      try { f(); } catch (e) { thrown++; }
    }
    eq(thrown, 2);
  });

  test('server streaming as a BridgeCall: for await, done, and leaving the loop cancels', async () => {
    const t = setup();
    const ws = connected(t);
    const repeat = t.client.serverStream('demo.v1.Echo/Repeat', { count: 3 });
    const id = repeat.messageId;
    eq(ws.frames('message')[0].payload, { count: 3 });
    for (const n of [1, 2]) {
      ws.receive({ type: 'stream_message', messageId: id, payload: { sequence: String(n) }, seq: n + 1 });
    }
    const seen = [];
    for await (const r of repeat) {
      seen.push(r.sequence);
      if (seen.length === 2) break;
    }
    eq(seen, ['1', '2'], 'replies that came before the loop wait for it');
    eq(ws.frames('cancel').map((f) => f.messageId), [id], 'break cancels the call');
    let error = null;
    try { await repeat.done; } catch (e) { error = e; }
    eq(error && error.category, 'cancelled');
  });

  test('streams while disconnected: sends wait in the queue; after a resume the unanswered message goes first', async () => {
    const t = setup();
    const ws = connected(t);
    const chat = t.client.bidiStream('demo.v1.Echo/Chat');
    const collect = t.client.clientStream('demo.v1.Echo/Collect');
    collect.send({ text: 'c1' });
    chat.send({ text: 'one' });
    ws.receive({ type: 'stream_message', messageId: chat.messageId, payload: { text: 'one' }, seq: 2 });
    ws.drop(1006);
    chat.send({ text: 'two' });
    collect.send({ text: 'c2' });
    collect.end();
    const later = t.client.bidiStream('demo.v1.Echo/Chat', { payload: { text: 'new' } });
    t.clock.advance(t.states[t.states.length - 1].delayMs);
    const ws2 = t.WS.last();
    ws2.open();
    eq(ws2.sent.map((f) => f.type), ['connect'], 'nothing but connect before the confirm');
    confirm(ws2, { resumed: true, seq: 3 });
    eq(ws2.sent.slice(1).map((f) => [f.type, f.messageId]), [
      ['message', collect.messageId], // unanswered: sent again, the server knows it
      ['stream_send', chat.messageId],
      ['stream_send', collect.messageId],
      ['stream_end', collect.messageId],
      ['message', later.messageId],
    ], 'the answered bidi call is not sent again; queued frames follow in order');
    eq(ws2.frames('stream_send').map((f) => f.payload.text), ['two', 'c2']);
    ws2.receive({ type: 'stream_message', messageId: chat.messageId, payload: { text: 'two' }, seq: 4 });
    chat.end();
    ws2.receive({ type: 'stream_end', messageId: chat.messageId, status: { code: 0 }, seq: 5 });
    const { replies } = await drain(chat);
    eq(replies.map((r) => r.text), ['one', 'two'], 'each reply once, across the resume');
  });

  test('streams, not resumed: an idempotent call without a reply is sent again whole; others fail', async () => {
    const t = setup();
    const ws = connected(t);
    const again = t.client.bidiStream('demo.v1.Echo/Chat', { idempotent: true, payload: { text: 'p' } });
    again.send({ text: 'q' });
    again.end();
    const lost = t.client.bidiStream('demo.v1.Echo/Chat');
    lost.send({ text: 'x' });
    const answered = t.client.bidiStream('demo.v1.Echo/Chat', { idempotent: true });
    answered.send({ text: 'y' });
    ws.receive({ type: 'stream_message', messageId: answered.messageId, payload: { text: 'y' }, seq: 2 });
    ws.drop(1006);
    t.clock.advance(t.states[t.states.length - 1].delayMs);
    const ws2 = t.WS.last();
    ws2.open();
    confirm(ws2, { conversationId: 's-2', resumed: false, seq: 1 });
    eq(callFrames(ws2, again.messageId), [['message', 'p'], ['stream_send', 'q'], ['stream_end']]);
    eq(ws2.sent.filter((f) => f.messageId !== again.messageId && f.type !== 'connect').length, 0,
       'nothing of the other calls');
    for (const call of [lost, answered]) {
      const { error } = await drain(call);
      eq([error && error.category, error && error.retryable], ['network_error', true]);
    }
  });

  test('cancel: a queued stream never goes out; a sent one sends cancel; both end cancelled', async () => {
    const t = setup();
    t.client.connect();
    const ws = t.WS.last();
    const queued = t.client.bidiStream('demo.v1.Echo/Chat');
    queued.send({ text: 'never' });
    queued.cancel();
    ws.open();
    confirm(ws);
    eq(ws.sent.map((f) => f.type), ['connect'], 'neither its message nor its stream_send');
    const sent = t.client.bidiStream('demo.v1.Echo/Chat');
    sent.cancel();
    eq(ws.frames('cancel').map((f) => f.messageId), [sent.messageId]);
    for (const call of [queued, sent]) {
      const { error } = await drain(call);
      eq(error && error.category, 'cancelled');
    }
  });

  test('a stream past its deadline ends with timeout', async () => {
    const t = setup({ callTimeoutSlackMs: 100, heartbeatTimeoutMs: 100000 });
    const ws = connected(t);
    const chat = t.client.bidiStream('demo.v1.Echo/Chat', { timeoutMs: 1000 });
    eq(ws.frames('message')[0].timeoutMs, 1000);
    t.clock.advance(1100);
    const { error } = await drain(chat);
    eq([error && error.category, ws.frames('cancel').length], ['timeout', 1]);
  });

  // ---- Runner ----

  global.runBridgeClientTests = async function () {
    const results = [];
    for (const { name, fn } of tests) {
      try {
        await fn();
        results.push({ name, ok: true });
      } catch (e) {
        results.push({ name, ok: false, error: String(e && e.stack || e) });
      }
      await settle();
    }
    const failed = results.filter((r) => !r.ok).length;
    return { passed: results.length - failed, failed, results };
  };
})(typeof window !== 'undefined' ? window : globalThis);

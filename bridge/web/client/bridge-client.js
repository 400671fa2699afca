/*
 * bridge-client.js: a browser client of the bridge protocol, version 1 (docs/protocol.md).
 * No dependencies; ES2018. This file is an ES module (the package's entry point; types in
 * bridge-client.d.ts):
 *
 *   import { BridgeClient } from 'grpc-ws-bridge-client';
 *
 * The bridge also serves it as a classic script, built from this file by
 * bridge/web/classic_script.py: <script src="/bridge-client.js"></script> sets the global
 * BridgeClient.
 *
 *   const client = new BridgeClient('/ws', { clientId: 'alice' });
 *   client.on('state', (s) => console.log(s.state, s.category || ''));
 *   client.connect();
 *   const reply = await client.call('demo.v1.Echo/Say', { text: 'hi' }, { timeoutMs: 5000 });
 *   client.subscribe('chat:lobby', {
 *     onPublication: (data, pub) => console.log(pub.offset, data),
 *   });
 *   const chat = client.bidiStream('demo.v1.Echo/Chat');
 *   chat.send({ text: 'hello' });
 *   chat.end();
 *   for await (const reply of chat) console.log(reply.text);
 *
 * Every call kind: call() (unary), serverStream() (or stream() with a callback),
 * clientStream() and bidiStream(); the streaming ones return a BridgeCall (send, end, cancel,
 * `done`, and the replies as an async iterator or through onMessage).
 *
 * What it does for you:
 *   - the handshake (`connect`, optional token in `connect` or as the `bearer, <token>`
 *     subprotocol pair), heartbeat (`ping`; no frame back within heartbeatTimeoutMs means the
 *     connection is dead: network_error, reconnect);
 *   - reconnect with exponential backoff and jitter, never sooner than the server's
 *     retryAfterMs; terminal close codes (authentication, permission, protocol, ...) stop it;
 *   - resume: the next `connect` names the conversation and the last `seq` seen, so the server
 *     replays what was lost; `ack`s let it forget what arrived;
 *   - frames sent while not connected wait in a queue and go out in order once confirmed;
 *     calls that got no answer are sent again with the same messageId after a resume;
 *   - streams follow the same rules: send() and end() while not connected wait in the queue;
 *     after a session that was not resumed an idempotent call without a reply is sent again
 *     whole (its `message`, stream_sends and stream_end), other calls fail with a retryable
 *     network_error. stream_send / stream_end frames that went out on a connection that
 *     then dropped are not sent again: the protocol does not acknowledge client frames;
 *   - channels: after a reconnect that did not resume, every channel is joined again with
 *     `since: {offset, epoch}` so the server can replay the publications missed.
 *
 * Events (client.on(name, handler), returns a function that removes the handler):
 *   'state'  {state: 'connecting'|'confirmed'|'disconnected'|'closed', ...}:
 *            confirmed carries conversationId and resumed; disconnected carries category,
 *            code, reason, willReconnect, attempt, delayMs; closed (no more attempts) carries
 *            category.
 *   'push'   (data, frame): a `publication` without a channel (sent to this user or session).
 *   'error'  (BridgeError): an error about the session, not about one call.
 *
 * Everything runs on the page's event loop; handlers are called from it.
 */
const global = globalThis;

// ---- The error table (docs/protocol.md, "Errors and their categories") ----

// For each category: may a failed call be retried ('yes', 'idempotent', 'no', or null when
// the category never describes a call), and does a client reconnect after a session ends
// with it (true, false, or null when it never ends a session).
const CATEGORIES = {
  network_error: { retryCall: null, reconnect: true },
  service_unavailable: { retryCall: 'yes', reconnect: true },
  timeout: { retryCall: 'idempotent', reconnect: true },
  rate_limited: { retryCall: 'yes', reconnect: true },
  slow_consumer: { retryCall: null, reconnect: true },
  server_shutdown: { retryCall: null, reconnect: true },
  internal: { retryCall: 'idempotent', reconnect: null },
  authentication_failed: { retryCall: 'no', reconnect: false },
  permission_denied: { retryCall: 'no', reconnect: false },
  protocol_error: { retryCall: 'no', reconnect: false },
  invalid_argument: { retryCall: 'no', reconnect: null },
  not_found: { retryCall: 'no', reconnect: null },
  message_too_big: { retryCall: 'no', reconnect: false },
  limit_exceeded: { retryCall: null, reconnect: false },
  cancelled: { retryCall: 'no', reconnect: null },
  normal_closure: { retryCall: null, reconnect: false },
};

// WebSocket close code -> category.
const CLOSE_CODES = {
  1000: 'normal_closure',
  1001: 'server_shutdown',
  1002: 'protocol_error',
  1003: 'protocol_error',
  1006: 'network_error',
  1007: 'protocol_error',
  1008: 'permission_denied',
  1009: 'message_too_big',
  1011: 'service_unavailable',
  1012: 'service_unavailable',
  1013: 'service_unavailable',
  1014: 'service_unavailable',
  4000: 'timeout',
  4001: 'timeout',
  4002: 'slow_consumer',
  4029: 'rate_limited',
  4500: 'authentication_failed',
  4501: 'permission_denied',
  4502: 'protocol_error',
  4503: 'limit_exceeded',
};

// The least delay before reconnecting after a close code when the server gave no
// retryAfterMs.
const MIN_RECONNECT_DELAY_MS = { 1011: 1000 };

// gRPC status code (numeric) -> category, for calls.
const GRPC_CODES = {
  1: 'cancelled', // CANCELLED
  2: 'internal', // UNKNOWN
  3: 'invalid_argument', // INVALID_ARGUMENT
  4: 'timeout', // DEADLINE_EXCEEDED
  5: 'not_found', // NOT_FOUND
  6: 'invalid_argument', // ALREADY_EXISTS
  7: 'permission_denied', // PERMISSION_DENIED
  8: 'rate_limited', // RESOURCE_EXHAUSTED
  9: 'invalid_argument', // FAILED_PRECONDITION
  10: 'cancelled', // ABORTED
  11: 'invalid_argument', // OUT_OF_RANGE
  12: 'not_found', // UNIMPLEMENTED
  13: 'internal', // INTERNAL
  14: 'service_unavailable', // UNAVAILABLE
  15: 'internal', // DATA_LOSS
  16: 'authentication_failed', // UNAUTHENTICATED
};

// What a close with `code` means: {category, reconnect, minDelayMs}. Codes outside the
// table: 4000-4499 reconnect, everything else does not (category 'unknown').
function closeCodeInfo(code) {
  const category = CLOSE_CODES[code];
  if (category !== undefined) {
    return {
      category,
      reconnect: CATEGORIES[category].reconnect === true,
      minDelayMs: MIN_RECONNECT_DELAY_MS[code] || 0,
    };
  }
  return { category: 'unknown', reconnect: code >= 4000 && code <= 4499, minDelayMs: 0 };
}

// The category of a call that ended with gRPC status `code` (0, OK, has none: null).
function categoryForGrpcCode(code) {
  if (code === 0) return null;
  return GRPC_CODES[code] || 'internal';
}

// The `retryable` of docs/protocol.md: true only where any client may retry the call.
function isRetryable(category) {
  const row = CATEGORIES[category];
  return row !== undefined && row.retryCall === 'yes';
}

// ---- Backoff (docs/protocol.md, "Reconnection") ----

// min(maxMs, baseMs * multiplier^(attempt-1)): the delay before attempt `attempt` (1, 2, ...)
// without jitter.
function backoffCeiling(options, attempt) {
  const multiplier = options.multiplier || 2;
  return Math.min(options.maxMs, options.baseMs * Math.pow(multiplier, attempt - 1));
}

// The delay before attempt `attempt`: the ceiling with jitter drawn from `random` (a function
// returning [0, 1)), never below `floorMs`. jitter: 'full' (a uniform draw in [0, ceiling)),
// 'equal' (ceiling/2 plus a draw in [0, ceiling/2)) or 'none'.
function backoffDelay(options, attempt, random, floorMs) {
  const ceiling = backoffCeiling(options, attempt);
  let delay;
  if (options.jitter === 'none') {
    delay = ceiling;
  } else if (options.jitter === 'equal') {
    delay = ceiling / 2 + random() * (ceiling / 2);
  } else {
    delay = random() * ceiling;
  }
  return Math.max(floorMs || 0, Math.floor(delay));
}

// ---- Errors ----

// What a failed call rejects with, and what the 'error' event carries.
class BridgeError extends Error {
  constructor(category, message, fields) {
    super(message || category);
    this.name = 'BridgeError';
    this.category = category;
    this.retryable = isRetryable(category);
    this.grpcCode = undefined;
    this.retryAfterMs = undefined;
    Object.assign(this, fields || {});
  }

  // From an `error` frame.
  static fromFrame(frame) {
    return new BridgeError(frame.category || 'internal', frame.message, {
      retryable: frame.retryable === true,
      grpcCode: frame.grpcCode,
      retryAfterMs: frame.retryAfterMs,
      messageId: frame.messageId,
      field: frame.field,
    });
  }
}

// ---- Seq and ack bookkeeping ----

// Tracks the `seq` of server frames: drops repeats, and says when an `ack` is due (every
// `everyFrames` frames, or on the ack timer when anything arrived since the last ack).
class SeqTracker {
  constructor(everyFrames) {
    this.everyFrames = everyFrames;
    this.reset();
  }

  reset() {
    this.lastSeq = 0;
    this.ackedSeq = 0;
  }

  // True when a frame with `seq` is new (and records it); false for a repeat. Frames without
  // seq are always new.
  accept(seq) {
    if (seq === undefined || seq === null) return true;
    const n = Number(seq);
    if (!(n > this.lastSeq)) return false;
    this.lastSeq = n;
    return true;
  }

  // The seq to acknowledge now, or 0. `byTime`: the ack timer fired.
  ackDue(byTime) {
    if (this.lastSeq <= this.ackedSeq) return 0;
    if (!byTime && (this.everyFrames <= 0 || this.lastSeq - this.ackedSeq < this.everyFrames)) {
      return 0;
    }
    this.ackedSeq = this.lastSeq;
    return this.lastSeq;
  }
}

// ---- Calls with streams ----

// The frames of a call that wait in the queue only while the call is open.
const CALL_FRAMES = new Set(['message', 'stream_send', 'stream_end']);

// The replies of a streaming call waiting for its async iterator: each reply not read yet
// waits here; a reader waiting for the next one is woken by it or by the call's end.
class ReplyQueue {
  constructor() {
    this.items = [];
    this.readers = [];
    this.ended = false;
    this.error = null; // why the call failed, until a reader has seen it
  }

  push(value) {
    const reader = this.readers.shift();
    if (reader) reader.resolve({ value, done: false });
    else this.items.push(value);
  }

  finish(error) {
    this.ended = true;
    this.error = error || null;
    for (const reader of this.readers.splice(0)) this._settle(reader);
  }

  next() {
    if (this.items.length > 0) return Promise.resolve({ value: this.items.shift(), done: false });
    return new Promise((resolve, reject) => {
      if (this.ended) this._settle({ resolve, reject });
      else this.readers.push({ resolve, reject });
    });
  }

  _settle(reader) {
    const error = this.error;
    this.error = null; // reported once; the iterator is done after it
    if (error) reader.reject(error);
    else reader.resolve({ value: undefined, done: true });
  }
}

// A call in progress, as serverStream(), clientStream() and bidiStream() return it.
//   send(payload)  one more request message (client streaming, bidi); false once the call is
//                  over; throws after end().
//   end()          the half-close: no more request messages.
//   cancel()       cancels the call upstream; it ends with category `cancelled`.
//   done           a promise of the call's one outcome: the reply's payload (client
//                  streaming) or {status, trailers} (server streaming, bidi); rejects with a
//                  BridgeError.
//   for await (const reply of call)   the replies in order (when no onMessage was given);
//                  the loop ends with the call and throws its BridgeError; leaving it early
//                  cancels the call.
// The call follows the client's reconnects: what it sends while disconnected waits in the
// queue, and a resumed session goes on with it (docs/clients.md).
class BridgeCall {
  constructor(client, call) {
    this._client = client;
    this._call = call;
    this.messageId = call.messageId;
    this.done = call.promise;
    this.done.catch(noop); // a failure is reported by `done`, the iterator or onError
    if (call.onEnd || call.onError) {
      this.done.then(call.onEnd || noop, call.onError || noop).catch(reportHandlerError);
    }
  }

  send(payload) {
    return this._client._streamSend(this.messageId, payload);
  }

  end() {
    this._client._streamEnd(this.messageId);
  }

  cancel() {
    this._client.cancel(this.messageId);
  }

  [Symbol.asyncIterator]() {
    const replies = this._call.replies;
    return {
      next: () => replies.next(),
      return: () => {
        this.cancel();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }
}

// ---- The client ----

// Server frame type -> the BridgeClient method that handles it (connect_confirm aside).
const FRAME_HANDLERS = {
  batch: '_onBatch',
  pong: '_onPong',
  response: '_onResponse',
  stream_message: '_onStreamMessage',
  stream_end: '_onStreamEnd',
  error: '_onError',
  subscribed: '_onChannelState',
  unsubscribed: '_onChannelState',
  publication: '_onPublication',
};

const DEFAULTS = {
  clientId: '',
  token: '', // a string, or a function returning one (called at each connect)
  tokenIn: 'connect', // 'connect' (the `token` field) or 'subprotocol' (`bearer, <token>`)
  reconnect: { baseMs: 1000, maxMs: 30000, attempts: 5, multiplier: 2, jitter: 'full' },
  resume: true,
  jsonMapping: null, // {emitDefaults, protoNames, enumsAsNumbers} asked for in connect
  heartbeatIntervalMs: 0, // 0: what connect_confirm announces
  heartbeatTimeoutMs: 0, // 0: what connect_confirm announces
  handshakeTimeoutMs: 10000, // no connect_confirm this long after the upgrade: timeout
  ackIntervalMs: 5000,
  ackEveryFrames: 64,
  callTimeoutSlackMs: 500, // a call's local deadline is timeoutMs plus this
  random: Math.random,
  WebSocket: global.WebSocket,
  setTimeout: (fn, ms) => global.setTimeout(fn, ms),
  clearTimeout: (id) => global.clearTimeout(id),
};

class BridgeClient {
  // `url`: ws://host:port/ws, or a path ('/ws') on the page's own host.
  constructor(url, options) {
    options = options || {};
    this.url = resolveUrl(url);
    this.options = Object.assign({}, DEFAULTS, options);
    this.options.reconnect = Object.assign({}, DEFAULTS.reconnect, options.reconnect || {});
    this.state = 'idle';
    this.conversationId = '';
    this.seq = new SeqTracker(this.options.ackEveryFrames);

    this._ws = null;
    this._handlers = {};
    this._timers = {};
    this._queue = []; // frames waiting for the session to be confirmed
    this._calls = new Map(); // messageId -> call
    this._channels = new Map(); // channel -> subscription
    this._channelRequests = []; // {type, channel} sent and not yet answered, oldest first
    this._nextId = 1;
    this._attempt = 0; // failed attempts since the last confirmed session
    this._resumeRequested = false;
    this._retryAfterMs = 0; // from the last session error
    this._heartbeat = { intervalMs: 30000, timeoutMs: 60000 };
    this._closedByUser = false;
  }

  // ---- Public API ----

  on(event, handler) {
    (this._handlers[event] = this._handlers[event] || []).push(handler);
    return () => this.off(event, handler);
  }

  off(event, handler) {
    const list = this._handlers[event] || [];
    const i = list.indexOf(handler);
    if (i >= 0) list.splice(i, 1);
  }

  // Opens the connection (and keeps it open, reconnecting, until close()).
  connect() {
    if (this.state !== 'idle' && this.state !== 'closed') return;
    this._closedByUser = false;
    this._attempt = 0;
    this._open();
  }

  // Closes with 1000: the server ends the session; pending calls fail with `cancelled`.
  close() {
    this._closedByUser = true;
    this._cancelTimers();
    if (this._ws) {
      const ws = this._ws;
      this._detach();
      ws.close(1000, 'client_closed');
    }
    this.conversationId = ''; // the server ends a session closed with 1000
    this._finish('cancelled', 'the client was closed');
  }

  // A unary call: resolves with the response's payload, rejects with a BridgeError.
  // options: timeoutMs, metadata, traceparent, idempotent (resend after a reconnect that did
  // not resume), messageId.
  call(method, payload, options) {
    return this._startCall('unary', method, payload, options || {}).promise;
  }

  // A server-streaming call, the callback form: onMessage(payload) for each reply; resolves
  // with {status, trailers} on a clean end, rejects with a BridgeError otherwise. The promise
  // has .messageId and .cancel(). serverStream() is the same call as a BridgeCall.
  stream(method, payload, onMessage, options) {
    const call = this._startCall('server', method, payload, Object.assign({}, options, {
      onMessage,
    }));
    const promise = call.promise;
    promise.messageId = call.messageId;
    promise.cancel = () => this.cancel(call.messageId);
    return promise;
  }

  // A server-streaming call as a BridgeCall: its replies by `for await` (or
  // options.onMessage), its end in `done` (or options.onEnd / onError).
  serverStream(method, payload, options) {
    return new BridgeCall(this, this._startCall('server', method, payload, options || {}));
  }

  // A client-streaming call: send() each request message, end() when done; `done` resolves
  // with the one reply's payload. options.payload, when given, is the first request message.
  clientStream(method, options) {
    options = options || {};
    return new BridgeCall(this, this._startCall('client', method, options.payload, options));
  }

  // A bidi-streaming call: send(), end() (the half-close) and cancel(); replies by
  // `for await` (or options.onMessage), the end in `done` ({status, trailers}).
  bidiStream(method, options) {
    options = options || {};
    return new BridgeCall(this, this._startCall('bidi', method, options.payload, options));
  }

  // Cancels a call upstream; it ends with a BridgeError of category `cancelled`.
  cancel(messageId) {
    const call = this._calls.get(messageId);
    if (!call) return;
    if (call.sent) this._send({ type: 'cancel', messageId });
    this._endCall(messageId, new BridgeError('cancelled', 'cancelled by the client'));
  }

  // Joins `channel`. options: params (any JSON value, the channel's request), onPublication
  // (data, {channel, offset, epoch}), onSubscribed ({channel, offset, epoch, recovered,
  // since}: after a reconnect, `since` is where recovery was asked from and `recovered` says
  // whether every publication after it was replayed),
  // onUnsubscribed ({channel}), onError (BridgeError), since ({offset, epoch}: join from this
  // position, as onPublication and onSubscribed report them; the publications after it are
  // replayed from the channel's history first, and `recovered` says whether all of them were).
  subscribe(channel, options) {
    if (this._channels.has(channel)) throw new Error('already subscribed to ' + channel);
    options = options || {};
    const since = options.since;
    const sub = {
      channel,
      params: options.params,
      onPublication: options.onPublication || noop,
      onSubscribed: options.onSubscribed || noop,
      onUnsubscribed: options.onUnsubscribed || noop,
      onError: options.onError || noop,
      // The position, with its epoch, where a recovery starts.
      offset: since ? since.offset : undefined,
      epoch: since ? since.epoch : undefined,
      delivered: since ? since.offset : undefined, // the last publication handed on
      sent: false, // its `subscribe` went out on the current session
      subscribed: false,
      unsubscribing: false,
    };
    this._channels.set(channel, sub);
    this._send(this._subscribeFrame(sub));
    return sub;
  }

  unsubscribe(channel) {
    const sub = this._channels.get(channel);
    if (!sub || sub.unsubscribing) return;
    if (!sub.sent) {
      // Its subscribe never went out: forget both.
      this._unqueue((f) => f.type === 'subscribe' && f.channel === channel);
      this._channels.delete(channel);
      return;
    }
    sub.unsubscribing = true;
    this._send({ type: 'unsubscribe', channel });
  }

  // A new token for the session (before the one in use expires). The next reconnect uses
  // options.token, so pass a function there to keep it current.
  refresh(token) {
    this._send({ type: 'refresh', token });
  }

  // ---- Connecting ----

  _open() {
    this._setState({ state: 'connecting', attempt: this._attempt });
    const protocols = ['bridge.v1.json'];
    const token = this._token();
    if (token && this.options.tokenIn === 'subprotocol') protocols.push('bearer', token);
    let ws;
    try {
      ws = new this.options.WebSocket(this.url, protocols);
    } catch (e) {
      this._onTransportClosed(1006, 'connect_failed');
      return;
    }
    this._ws = ws;
    this._retryAfterMs = 0;
    ws.onopen = () => this._onOpen();
    ws.onmessage = (event) => this._onMessage(event.data);
    ws.onclose = (event) => {
      this._detach();
      this._onTransportClosed(event.code, event.reason);
    };
    ws.onerror = noop; // a close event follows
  }

  _onOpen() {
    const frame = {
      type: 'connect',
      clientId: this.options.clientId,
      version: '1',
      timestamp: new Date().toISOString(),
    };
    const token = this._token();
    if (token && this.options.tokenIn !== 'subprotocol') frame.token = token;
    if (this.options.jsonMapping) frame.jsonMapping = this.options.jsonMapping;
    this._resumeRequested = this.options.resume && this.conversationId !== '';
    if (this._resumeRequested) {
      frame.resume = { conversationId: this.conversationId, lastSeq: this.seq.lastSeq };
    }
    this._transmit(frame);
    this._arm('handshake', this.options.handshakeTimeoutMs, () =>
      this._dropTransport('timeout', 'no connect_confirm in time'),
    );
  }

  _onConfirm(frame) {
    if (this.state === 'confirmed') return; // one per connection
    this._cancelTimer('handshake');
    const resumed =
      this._resumeRequested &&
      frame.resumed === true &&
      frame.conversationId === this.conversationId;
    if (!resumed) {
      this.seq.reset(); // a new session counts from 1 again
      this._channelRequests = [];
    }
    this.seq.accept(frame.seq);
    this.conversationId = frame.conversationId;
    this._attempt = 0;
    const announcedMs = Number(frame.heartbeatIntervalMs) || 30000;
    this._heartbeat = {
      intervalMs: this.options.heartbeatIntervalMs || announcedMs,
      timeoutMs:
        this.options.heartbeatTimeoutMs ||
        Number(frame.heartbeatTimeoutMs) ||
        2 * announcedMs,
    };
    this.state = 'confirmed';

    if (resumed) {
      this._resendUnanswered();
    } else {
      this._recoverAfterNewSession();
    }
    const queued = this._queue;
    this._queue = [];
    for (const f of queued) this._transmit(f);

    this._schedulePing();
    this._armLiveness();
    this._scheduleAck();
    this._setState({ state: 'confirmed', conversationId: this.conversationId, resumed });
  }

  // resumed: true. The server replayed what it had sent; what it may never have received is
  // a `message` that got no answer.
  _resendUnanswered() {
    for (const call of this._calls.values()) {
      if (call.sent && !call.answered) this._transmit(call.frame);
    }
  }

  // resumed: false. The old session is gone: idempotent calls without an answer go again,
  // other calls sent on it fail with network_error (the server may or may not have run
  // them). Channels are joined again from the last offset seen.
  _recoverAfterNewSession() {
    for (const [id, call] of Array.from(this._calls)) {
      if (!call.sent) continue; // still in the queue
      if (call.idempotent && !call.answered) {
        this._transmit(call.frame);
        for (const later of call.laterFrames) this._write(later);
        continue;
      }
      this._endCall(
        id,
        new BridgeError(
          'network_error',
          'the connection was lost and the session was not resumed',
          { retryable: true },
        ),
      );
    }
    for (const [channel, sub] of Array.from(this._channels)) {
      if (!sub.sent) continue; // its subscribe is still in the queue
      if (sub.unsubscribing) {
        this._channels.delete(channel);
        sub.onUnsubscribed({ channel });
        continue;
      }
      sub.subscribed = false;
      this._transmit(this._subscribeFrame(sub));
    }
  }

  _subscribeFrame(sub) {
    const frame = { type: 'subscribe', channel: sub.channel };
    if (sub.params !== undefined) frame.params = sub.params;
    sub.since = undefined;
    if (sub.offset !== undefined) {
      sub.since = { offset: sub.offset, epoch: sub.epoch };
      frame.since = { offset: sub.offset, epoch: sub.epoch };
    }
    return frame;
  }

  // ---- Losing the connection ----

  // Gives up on the current connection (heartbeat or handshake timeout) without waiting for
  // a close handshake the network may never deliver.
  _dropTransport(category, reason) {
    const ws = this._ws;
    if (!ws) return;
    this._detach();
    try {
      ws.close(4000, reason.slice(0, 100));
    } catch (e) {
      // already closing
    }
    this._onTransportClosed(category === 'timeout' ? 4001 : 1006, reason, category);
  }

  _onTransportClosed(code, reason, category) {
    this._cancelTimers();
    this._ws = null;
    if (this._closedByUser) return;
    const info = closeCodeInfo(code);
    category = category || info.category;
    const attempts = this.options.reconnect.attempts;
    const willReconnect = info.reconnect && this._attempt < attempts;
    const event = { state: 'disconnected', category, code, reason: reason || '', willReconnect };
    if (willReconnect) {
      this._attempt += 1;
      const floorMs = Math.max(this._retryAfterMs, info.minDelayMs);
      event.attempt = this._attempt;
      event.delayMs = backoffDelay(
        this.options.reconnect,
        this._attempt,
        this.options.random,
        floorMs,
      );
      this.state = 'disconnected';
      this._arm('reconnect', event.delayMs, () => this._open());
      this._setState(event);
      return;
    }
    this.state = 'disconnected';
    this._setState(event);
    this._finish(category, 'the connection closed (' + code + (reason ? ' ' + reason : '') + ')');
  }

  // No more attempts: every call fails with `category`. Channels stay: their subscribes wait
  // in the queue for the next connect().
  _finish(category, message) {
    this._cancelTimers();
    this._queue = [];
    for (const id of Array.from(this._calls.keys())) {
      this._endCall(id, new BridgeError(category, message));
    }
    for (const [channel, sub] of Array.from(this._channels)) {
      if (sub.unsubscribing) {
        this._channels.delete(channel);
        continue;
      }
      sub.sent = sub.subscribed = false;
      this._queue.push(this._subscribeFrame(sub));
    }
    this._resumeRequested = false;
    if (this.state !== 'closed') {
      this.state = 'closed';
      this._setState({ state: 'closed', category });
    }
  }

  _detach() {
    const ws = this._ws;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    this._ws = null;
  }

  // ---- Frames from the server ----

  _onMessage(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch (e) {
      this._emit('error', new BridgeError('protocol_error', 'the server sent invalid JSON'));
      return;
    }
    this._armLiveness(); // any frame proves the connection alive
    this._handleFrame(frame);
    const seq = this.seq.ackDue(false);
    if (seq && this.state === 'confirmed') this._transmit({ type: 'ack', seq });
  }

  _handleFrame(frame) {
    if (frame === null || typeof frame !== 'object') return;
    if (frame.type === 'connect_confirm') {
      this._onConfirm(frame);
      return;
    }
    if (!this.seq.accept(frame.seq)) return; // already seen (a replay overlapping)
    const handler = FRAME_HANDLERS[frame.type];
    if (handler) this[handler](frame); // unknown types are ignored (forward compatibility)
  }

  _onBatch(frame) {
    for (const inner of frame.frames || []) this._handleFrame(inner);
  }

  _onPong() {}

  _onResponse(frame) {
    const reply = frame.payload === undefined ? frame.content : frame.payload;
    this._endCall(frame.messageId, null, reply);
  }

  _onStreamMessage(frame) {
    const call = this._calls.get(frame.messageId);
    if (!call) return;
    call.answered = true;
    call.laterFrames = [];
    if (call.onMessage) safely(() => call.onMessage(frame.payload));
    else call.replies.push(frame.payload);
  }

  _onStreamEnd(frame) {
    const status = frame.status || {};
    const code = Number(status.code || 0);
    if (code === 0) {
      this._endCall(frame.messageId, null, { status, trailers: frame.trailers });
      return;
    }
    const category = categoryForGrpcCode(code);
    this._endCall(
      frame.messageId,
      new BridgeError(category, status.message, { grpcCode: code, trailers: frame.trailers }),
    );
  }

  _onError(frame) {
    const error = BridgeError.fromFrame(frame);
    if (frame.messageId) {
      this._endCall(frame.messageId, error);
      return;
    }
    // A refused subscribe: the error names the field (`channel`), not the channel; the
    // server answers subscribes in order, so it is the oldest one waiting.
    const field = frame.field || '';
    if ((field === 'channel' || field.startsWith('since')) && this._channelRequests.length > 0) {
      const request = this._channelRequests.shift();
      const sub = this._channels.get(request.channel);
      if (sub) {
        this._channels.delete(request.channel);
        if (request.type === 'subscribe') safely(() => sub.onError(error));
        else safely(() => sub.onUnsubscribed({ channel: request.channel }));
      }
      return;
    }
    // About the session: it may explain a close that follows and sets a floor on the delay
    // before the next attempt.
    this._retryAfterMs = Math.max(this._retryAfterMs, Number(frame.retryAfterMs) || 0);
    this._emit('error', error);
  }

  _onChannelState(frame) {
    const asked = frame.type === 'subscribed' ? 'subscribe' : 'unsubscribe';
    const i = this._channelRequests.findIndex(
      (r) => r.type === asked && r.channel === frame.channel,
    );
    if (i >= 0) this._channelRequests.splice(i, 1);
    const sub = this._channels.get(frame.channel);
    if (!sub) return;
    if (frame.type === 'unsubscribed') {
      this._channels.delete(frame.channel);
      safely(() => sub.onUnsubscribed({ channel: frame.channel }));
      return;
    }
    sub.subscribed = true;
    const recovered = frame.recovered === true;
    // After a recovery the replayed publications move the position on; otherwise the
    // channel starts here.
    if (frame.offset !== undefined && !(recovered && sub.offset !== undefined)) {
      sub.offset = Number(frame.offset);
      sub.epoch = frame.epoch;
    }
    if (!recovered) sub.delivered = undefined;
    safely(() =>
      sub.onSubscribed({
        channel: frame.channel,
        offset: sub.offset,
        epoch: sub.epoch,
        recovered,
        since: sub.since, // the position asked to recover from, if any
      }),
    );
  }

  _onPublication(frame) {
    if (frame.channel === undefined || frame.channel === '') {
      this._emit('push', frame.data, frame);
      return;
    }
    const sub = this._channels.get(frame.channel);
    if (!sub) return;
    const offset = Number(frame.offset || 0);
    // A publication already delivered (a recovery overlapping a replay): skip it.
    if (offset > 0 && frame.epoch === sub.epoch && sub.delivered !== undefined &&
        offset <= sub.delivered) {
      return;
    }
    sub.offset = sub.delivered = offset;
    sub.epoch = frame.epoch;
    safely(() =>
      sub.onPublication(frame.data, { channel: frame.channel, offset, epoch: frame.epoch }),
    );
  }

  // ---- Calls ----

  // Starts a call of `kind` ('unary', 'server', 'client', 'bidi') and returns its record:
  // messageId, promise (its one outcome), and what sending, resending and replies need.
  _startCall(kind, method, payload, options) {
    const messageId = options.messageId || 'm' + this._nextId++;
    const frame = { type: 'message', messageId, method };
    // Calls with one request always carry it; a client stream's first one is optional.
    if (payload !== undefined || kind === 'unary' || kind === 'server') {
      frame.payload = payload === undefined ? {} : payload;
    }
    if (options.metadata) frame.metadata = options.metadata;
    // The call's trace parent (W3C traceparent): its gRPC request becomes a child span of it.
    // Browsers cannot set headers on the upgrade, so a trace goes per call, in the metadata.
    if (options.traceparent) {
      frame.metadata = Object.assign({}, frame.metadata, { traceparent: options.traceparent });
    }
    if (options.timeoutMs) frame.timeoutMs = options.timeoutMs;
    const call = {
      kind,
      messageId,
      frame,
      onMessage: options.onMessage,
      onEnd: options.onEnd,
      onError: options.onError,
      replies: new ReplyQueue(),
      idempotent: options.idempotent === true,
      sent: false, // its `message` went out (on this or an earlier connection)
      answered: false, // a reply of it arrived
      halfClosed: false,
      // stream_send / stream_end frames sent while an idempotent call is unanswered: a new
      // session gets them again after the `message`.
      laterFrames: [],
    };
    call.promise = new Promise((resolve, reject) => {
      call.resolve = resolve;
      call.reject = reject;
    });
    if (this.state === 'closed') {
      const error = new BridgeError('network_error', 'the client is closed; call connect() first');
      call.reject(error);
      call.replies.finish(error);
      return call;
    }
    this._calls.set(messageId, call);
    if (options.timeoutMs) {
      // The server's deadline usually answers first (with grpcCode 4); this one also covers
      // a call still waiting in the queue.
      call.timer = this.options.setTimeout(() => {
        if (call.sent) this._send({ type: 'cancel', messageId });
        const error = new BridgeError('timeout', 'deadline exceeded', { grpcCode: 4 });
        this._endCall(messageId, error);
      }, options.timeoutMs + this.options.callTimeoutSlackMs);
    }
    this._send(frame);
    return call;
  }

  // One more request message of a client-streaming or bidi call. False when the call is over.
  _streamSend(messageId, payload) {
    const call = this._openStream(messageId, 'send');
    if (!call) return false;
    if (call.halfClosed) throw new Error('send() after end() on call ' + messageId);
    this._send({ type: 'stream_send', messageId, payload: payload === undefined ? {} : payload });
    return true;
  }

  // The client's half-close of a client-streaming or bidi call; once only.
  _streamEnd(messageId) {
    const call = this._openStream(messageId, 'end');
    if (!call || call.halfClosed) return;
    call.halfClosed = true;
    this._send({ type: 'stream_end', messageId });
  }

  _openStream(messageId, what) {
    const call = this._calls.get(messageId);
    if (call && call.kind !== 'client' && call.kind !== 'bidi') {
      throw new Error(what + '() on a call with one request message (' + messageId + ')');
    }
    return call;
  }

  // The one outcome of a call: `error` (a BridgeError), or else `value`. Its frames still
  // waiting in the queue will not go out.
  _endCall(messageId, error, value) {
    const call = this._calls.get(messageId);
    if (!call) return;
    this._calls.delete(messageId);
    if (call.timer !== undefined) this.options.clearTimeout(call.timer);
    this._unqueue((f) => CALL_FRAMES.has(f.type) && f.messageId === messageId);
    if (error) call.reject(error);
    else call.resolve(value);
    call.replies.finish(error);
  }

  // ---- Sending ----

  // A frame of the session: on the wire when confirmed, else queued until then.
  _send(frame) {
    if (this.state === 'confirmed' && this._ws) {
      this._transmit(frame);
    } else {
      this._queue.push(frame);
    }
  }

  _unqueue(predicate) {
    this._queue = this._queue.filter((f) => !predicate(f));
  }

  // On the wire now, noting what a resend or a resubscribe needs.
  _transmit(frame) {
    if (!this._ws) return;
    if (frame.type === 'message') {
      const call = this._calls.get(frame.messageId);
      if (call) call.sent = true;
    } else if (frame.type === 'stream_send' || frame.type === 'stream_end') {
      const call = this._calls.get(frame.messageId);
      if (call && call.idempotent && !call.answered) call.laterFrames.push(frame);
    } else if (frame.type === 'subscribe') {
      const sub = this._channels.get(frame.channel);
      if (sub) sub.sent = true;
      this._channelRequests.push({ type: 'subscribe', channel: frame.channel });
    } else if (frame.type === 'unsubscribe') {
      this._channelRequests.push({ type: 'unsubscribe', channel: frame.channel });
    }
    this._write(frame);
  }

  _write(frame) {
    if (this._ws) this._ws.send(JSON.stringify(frame));
  }

  // ---- Heartbeat and acks ----

  _schedulePing() {
    this._arm('ping', this._heartbeat.intervalMs, () => {
      this._transmit({ type: 'ping', timestamp: new Date().toISOString() });
      this._schedulePing();
    });
  }

  _armLiveness() {
    if (this.state !== 'confirmed') return;
    this._arm('liveness', this._heartbeat.timeoutMs, () =>
      this._dropTransport('network_error', 'pong_missing'),
    );
  }

  _scheduleAck() {
    if (!(this.options.ackIntervalMs > 0)) return;
    this._arm('ack', this.options.ackIntervalMs, () => {
      const seq = this.seq.ackDue(true);
      if (seq) this._transmit({ type: 'ack', seq });
      this._scheduleAck();
    });
  }

  // ---- Timers, events, helpers ----

  _arm(name, ms, fn) {
    this._cancelTimer(name);
    this._timers[name] = this.options.setTimeout(() => {
      delete this._timers[name];
      fn();
    }, ms);
  }

  _cancelTimer(name) {
    if (this._timers[name] !== undefined) {
      this.options.clearTimeout(this._timers[name]);
      delete this._timers[name];
    }
  }

  _cancelTimers() {
    for (const name of Object.keys(this._timers)) this._cancelTimer(name);
  }

  _setState(event) {
    if (event.state !== 'disconnected' && event.state !== 'closed') this.state = event.state;
    this._emit('state', event);
  }

  _emit(event, ...args) {
    for (const handler of (this._handlers[event] || []).slice()) safely(() => handler(...args));
  }

  _token() {
    const t = this.options.token;
    return typeof t === 'function' ? t() : t;
  }
}

function noop() {}

// A handler that throws must not break the client.
function safely(fn) {
  try {
    fn();
  } catch (e) {
    reportHandlerError(e);
  }
}

function reportHandlerError(e) {
  if (global.console) global.console.error('BridgeClient handler failed:', e);
}

function resolveUrl(url) {
  if (/^wss?:\/\//.test(url) || !global.location) return url;
  const scheme = global.location.protocol === 'https:' ? 'wss://' : 'ws://';
  return scheme + global.location.host + (url.startsWith('/') ? url : '/' + url);
}

// The pure parts, for tests and for callers that want the same table.
BridgeClient.BridgeError = BridgeError;
BridgeClient.SeqTracker = SeqTracker;
BridgeClient.closeCodeInfo = closeCodeInfo;
BridgeClient.categoryForGrpcCode = categoryForGrpcCode;
BridgeClient.isRetryable = isRetryable;
BridgeClient.backoffCeiling = backoffCeiling;
BridgeClient.backoffDelay = backoffDelay;
BridgeClient.CATEGORIES = CATEGORIES;

export { BridgeCall, BridgeClient, BridgeError };

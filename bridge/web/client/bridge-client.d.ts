// Types of bridge-client.js, the browser client of the bridge protocol (docs/protocol.md).
// Payloads are the request and reply messages in protobuf's JSON mapping; each call takes
// their types as parameters (Req, Res), `unknown` when not given.

/** The error categories of docs/protocol.md, section 14. */
export type ErrorCategory =
  | 'network_error'
  | 'service_unavailable'
  | 'timeout'
  | 'rate_limited'
  | 'slow_consumer'
  | 'server_shutdown'
  | 'internal'
  | 'authentication_failed'
  | 'permission_denied'
  | 'protocol_error'
  | 'invalid_argument'
  | 'not_found'
  | 'message_too_big'
  | 'limit_exceeded'
  | 'cancelled'
  | 'normal_closure';

/** A JSON value, as channels' `params` and publications' `data` are. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/** Why a call, a channel or the session failed. */
export class BridgeError extends Error {
  constructor(
    category: ErrorCategory | 'unknown',
    message?: string,
    fields?: Partial<BridgeErrorFields>,
  );
  readonly name: 'BridgeError';
  readonly category: ErrorCategory | 'unknown';
  /** Any client may make the call again (`rate_limited`, `service_unavailable`, ...). */
  readonly retryable: boolean;
  /** The gRPC status code, when the call reached a backend. */
  readonly grpcCode: number | undefined;
  /** The least wait before a retry, when the bridge or the backend said. */
  readonly retryAfterMs: number | undefined;
  /** The call the error ends, for call errors. */
  readonly messageId?: string;
  /** The field the bridge objected to (`payload`, `metadata["x"]`, `channel`). */
  readonly field?: string;
  /** The trailers of a stream that ended with a status other than OK. */
  readonly trailers?: Record<string, string>;
  static fromFrame(frame: object): BridgeError;
}

export interface BridgeErrorFields {
  retryable: boolean;
  grpcCode: number;
  retryAfterMs: number;
  messageId: string;
  field: string;
  trailers: Record<string, string>;
}

export interface ReconnectOptions {
  /** Delay before the first attempt, before jitter (1000). */
  baseMs?: number;
  /** The largest delay (30000). */
  maxMs?: number;
  /** Attempts after a drop before giving up (5); Infinity keeps trying. */
  attempts?: number;
  /** Growth per attempt (2). */
  multiplier?: number;
  /** 'full' (default): uniform in [0, delay); 'equal': delay/2 plus up to delay/2. */
  jitter?: 'full' | 'equal' | 'none';
}

/** A WebSocket constructor (the page's by default; a fake in tests). */
export interface WebSocketLike {
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string, protocols: string[]) => WebSocketLike;

export interface ClientOptions {
  clientId?: string;
  /** A token, or a function returning the current one (called at each connect). */
  token?: string | (() => string);
  /** Where the token goes: the `connect` frame, or the `bearer, <token>` subprotocol pair. */
  tokenIn?: 'connect' | 'subprotocol';
  reconnect?: ReconnectOptions;
  /** Ask to resume the session after a reconnect (true). */
  resume?: boolean;
  /**
   * The JSON mapping this session asks for, where the route lets it choose (docs/protocol.md,
   * "JSON mapping"); an absent field keeps the route's choice.
   */
  jsonMapping?: JsonMapping;
  /** 0: what connect_confirm announces. */
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
  /** No connect_confirm this long after the upgrade: timeout (10000). */
  handshakeTimeoutMs?: number;
  /** Acks at least this often (5000) ... */
  ackIntervalMs?: number;
  /** ... and after this many frames (64). */
  ackEveryFrames?: number;
  /** A call's local deadline is its timeoutMs plus this (500). */
  callTimeoutSlackMs?: number;
  /** Draws in [0, 1) for jitter (Math.random). */
  random?: () => number;
  WebSocket?: WebSocketConstructor;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (id: any) => void;
}

/** The JSON mapping options of protobuf's JSON printer, Envoy's transcoder and grpc-gateway. */
export interface JsonMapping {
  /** Fields without presence written at their default value (0, "", false, [], {}). */
  emitDefaults?: boolean;
  /** Field names as in the .proto ("user_id"), not lowerCamelCase ("userId"). */
  protoNames?: boolean;
  /** Enum values as numbers, not names. */
  enumsAsNumbers?: boolean;
}

export interface CallOptions {
  /** The call's deadline; the bridge's default when absent. */
  timeoutMs?: number;
  /** Request metadata: keys [0-9a-z_.-], values printable ASCII (base64 for -bin keys). */
  metadata?: Record<string, string>;
  /** The call may run twice: after a session that was not resumed it is sent again. */
  idempotent?: boolean;
  /** Your own messageId, unique within the session. */
  messageId?: string;
  /**
   * A W3C traceparent, "00-<32 hex trace id>-<16 hex span id>-<2 hex flags>": the bridge's gRPC
   * call becomes a child span of it. Sent in the call's metadata (docs/protocol.md, "Trace
   * context").
   */
  traceparent?: string;
}

/** How a server-streaming or bidi call ended well. */
export interface StreamEnd {
  status: { code: number; message?: string };
  trailers?: Record<string, string>;
}

export interface StreamCallbacks<Res, End> {
  /** Each reply, in order; when given, the replies do not wait for an async iterator. */
  onMessage?: (reply: Res) => void;
  /** The call ended well. */
  onEnd?: (end: End) => void;
  /** The call failed. */
  onError?: (error: BridgeError) => void;
}

export type ServerStreamOptions<Res> = CallOptions & StreamCallbacks<Res, StreamEnd>;

export interface ClientStreamOptions<Req, Res> extends CallOptions, StreamCallbacks<never, Res> {
  /** The first request message, sent with the call. */
  payload?: Req;
}

export interface BidiStreamOptions<Req, Res> extends CallOptions, StreamCallbacks<Res, StreamEnd> {
  /** The first request message, sent with the call. */
  payload?: Req;
}

/** A server-streaming call in progress. */
export interface ServerStreamCall<Res> extends AsyncIterable<Res> {
  readonly messageId: string;
  /** The call's one outcome. */
  readonly done: Promise<StreamEnd>;
  /** Cancels the call upstream; it ends with category `cancelled`. */
  cancel(): void;
}

/** A client-streaming call in progress: send, then end; `done` is the reply. */
export interface ClientStreamCall<Req, Res> {
  readonly messageId: string;
  readonly done: Promise<Res>;
  /** One more request message; false once the call is over; throws after end(). */
  send(payload: Req): boolean;
  /** The half-close: no more request messages. */
  end(): void;
  cancel(): void;
}

/** A bidi-streaming call in progress. */
export interface BidiStreamCall<Req, Res> extends ServerStreamCall<Res> {
  send(payload: Req): boolean;
  end(): void;
}

/** The promise of stream(): the outcome, with the call's messageId and cancel(). */
export interface StreamPromise extends Promise<StreamEnd> {
  readonly messageId: string;
  cancel(): void;
}

export type ConnectionState = 'idle' | 'connecting' | 'confirmed' | 'disconnected' | 'closed';

export type StateEvent =
  | { state: 'connecting'; attempt: number }
  | { state: 'confirmed'; conversationId: string; resumed: boolean }
  | {
      state: 'disconnected';
      category: ErrorCategory | 'unknown';
      code: number;
      reason: string;
      willReconnect: boolean;
      attempt?: number;
      delayMs?: number;
    }
  | { state: 'closed'; category: ErrorCategory | 'unknown' };

/** A publication on a channel, or a push (no channel). */
export interface PublicationFrame {
  type: 'publication';
  channel?: string;
  offset?: number;
  epoch?: string;
  data: JsonValue;
  seq?: number;
}

export interface ChannelPosition {
  channel: string;
  offset: number;
  epoch: string;
}

export interface SubscribedEvent {
  channel: string;
  offset: number | undefined;
  epoch: string | undefined;
  /** After a reconnect: every publication since `since` was replayed. */
  recovered: boolean;
  /** The position recovery was asked from, if any. */
  since?: { offset: number; epoch: string };
}

export interface SubscribeOptions<Data = JsonValue> {
  /** The channel's request (channels fed by an upstream stream). */
  params?: JsonValue;
  /**
   * Join from this position (as onPublication and onSubscribed report it): the publications
   * after it are replayed from the channel's history first; `recovered` says whether all were.
   */
  since?: { offset: number; epoch: string };
  onPublication?: (data: Data, position: ChannelPosition) => void;
  onSubscribed?: (event: SubscribedEvent) => void;
  onUnsubscribed?: (event: { channel: string }) => void;
  onError?: (error: BridgeError) => void;
}

export interface Subscription {
  readonly channel: string;
  readonly offset: number | undefined;
  readonly epoch: string | undefined;
  readonly subscribed: boolean;
}

export interface ClientEvents {
  state: (event: StateEvent) => void;
  push: (data: JsonValue, frame: PublicationFrame) => void;
  error: (error: BridgeError) => void;
}

export class BridgeClient {
  /** `url`: ws://host:port/ws, or a path ('/ws') on the page's own host. */
  constructor(url: string, options?: ClientOptions);

  readonly url: string;
  readonly options: Required<ClientOptions>;
  readonly state: ConnectionState;
  /** The session, once confirmed. */
  readonly conversationId: string;

  /** Adds a handler; returns a function that removes it. */
  on<E extends keyof ClientEvents>(event: E, handler: ClientEvents[E]): () => void;
  off<E extends keyof ClientEvents>(event: E, handler: ClientEvents[E]): void;

  /** Opens the connection and keeps it open, reconnecting, until close(). */
  connect(): void;
  /** Closes with 1000: the session ends; calls in flight fail with `cancelled`. */
  close(): void;

  /** A unary call: the reply's payload. */
  call<Res = unknown, Req = unknown>(
    method: string,
    payload?: Req,
    options?: CallOptions,
  ): Promise<Res>;
  /** A server-streaming call, the callback form. */
  stream<Res = unknown, Req = unknown>(
    method: string,
    payload: Req | undefined,
    onMessage: (reply: Res) => void,
    options?: CallOptions,
  ): StreamPromise;
  /** A server-streaming call: replies by `for await` or onMessage. */
  serverStream<Res = unknown, Req = unknown>(
    method: string,
    payload?: Req,
    options?: ServerStreamOptions<Res>,
  ): ServerStreamCall<Res>;
  /** A client-streaming call: send(), end(), then `done` is the reply. */
  clientStream<Req = unknown, Res = unknown>(
    method: string,
    options?: ClientStreamOptions<Req, Res>,
  ): ClientStreamCall<Req, Res>;
  /** A bidi-streaming call: send(), end(), replies by `for await` or onMessage. */
  bidiStream<Req = unknown, Res = unknown>(
    method: string,
    options?: BidiStreamOptions<Req, Res>,
  ): BidiStreamCall<Req, Res>;
  /** Cancels the call with this messageId. */
  cancel(messageId: string): void;

  /** Joins a channel; throws if already subscribed to it. */
  subscribe<Data = JsonValue>(channel: string, options?: SubscribeOptions<Data>): Subscription;
  unsubscribe(channel: string): void;
  /** A new token for the session (JWT sessions). */
  refresh(token: string): void;

  // The pure parts, the same tables the client uses.
  static readonly BridgeError: typeof BridgeError;
  static readonly BridgeCall: typeof BridgeCall;
  static closeCodeInfo(code: number): {
    category: ErrorCategory | 'unknown';
    reconnect: boolean;
    minDelayMs: number;
  };
  static categoryForGrpcCode(code: number): ErrorCategory | null;
  static isRetryable(category: string): boolean;
  static backoffCeiling(
    options: ReconnectOptions & { baseMs: number; maxMs: number },
    attempt: number,
  ): number;
  static backoffDelay(
    options: ReconnectOptions & { baseMs: number; maxMs: number },
    attempt: number,
    random: () => number,
    floorMs?: number,
  ): number;
  static readonly CATEGORIES: Readonly<
    Record<
      ErrorCategory,
      { retryCall: 'yes' | 'idempotent' | 'no' | null; reconnect: boolean | null }
    >
  >;
}

/** What serverStream(), clientStream() and bidiStream() return (typed by their interfaces). */
export class BridgeCall {
  private constructor();
  readonly messageId: string;
  readonly done: Promise<unknown>;
  send(payload: unknown): boolean;
  end(): void;
  cancel(): void;
  [Symbol.asyncIterator](): AsyncIterator<unknown>;
}

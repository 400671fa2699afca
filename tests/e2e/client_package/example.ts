// Every call kind of the JavaScript client, as a TypeScript user writes them against the
// installed package. client_package_test checks it with `tsc --noEmit` (strict).
import { BridgeClient, BridgeError } from 'grpc-ws-bridge-client';
import type { BidiStreamCall, StateEvent, StreamEnd } from 'grpc-ws-bridge-client';

interface SayRequest {
  text: string;
}
interface SayResponse {
  text: string;
  sequence?: string;
}
interface RepeatRequest {
  text: string;
  count: number;
}
interface CollectResponse {
  texts: string[];
  count: string;
}
interface ChatMessage {
  user?: string;
  text: string;
}

export async function everyCallKind(url: string): Promise<string[]> {
  const client = new BridgeClient(url, {
    clientId: 'typed',
    token: () => 'a-token',
    tokenIn: 'subprotocol',
    reconnect: { baseMs: 100, maxMs: 2000, attempts: Infinity, jitter: 'equal' },
  });
  const seen: string[] = [];
  const off = client.on('state', (s: StateEvent) => {
    if (s.state === 'disconnected') seen.push(`${s.category} ${s.willReconnect}`);
    if (s.state === 'confirmed') seen.push(s.resumed ? 'resumed' : s.conversationId);
  });
  client.on('error', (e) => seen.push(e.category));
  client.on('push', (data, frame) => seen.push(JSON.stringify(data) + frame.type));
  client.connect();

  // Unary.
  const said = await client.call<SayResponse, SayRequest>('demo.v1.Echo/Say', { text: 'hi' }, {
    timeoutMs: 5000,
    metadata: { 'x-request-id': '1' },
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    idempotent: true,
  });
  seen.push(said.text);

  // Server streaming: the iterator, and the callback forms.
  const repeat = client.serverStream<SayResponse, RepeatRequest>('demo.v1.Echo/Repeat', {
    text: 'r',
    count: 3,
  });
  for await (const reply of repeat) seen.push(reply.text + (reply.sequence ?? ''));
  const end: StreamEnd = await repeat.done;
  seen.push(String(end.status.code));
  const old = client.stream<SayResponse>('demo.v1.Echo/Repeat', { text: 'o', count: 1 }, (r) =>
    seen.push(r.text),
  );
  seen.push(old.messageId);
  await old;

  // Client streaming.
  const collect = client.clientStream<SayRequest, CollectResponse>('demo.v1.Echo/Collect', {
    payload: { text: 'first' },
    timeoutMs: 10000,
  });
  collect.send({ text: 'a' });
  const accepted: boolean = collect.send({ text: 'b' });
  collect.end();
  const collected = await collect.done;
  seen.push(collected.texts.join(',') + accepted);

  // Bidi streaming: callbacks, then the iterator.
  const chat: BidiStreamCall<ChatMessage, ChatMessage> = client.bidiStream<ChatMessage, ChatMessage>(
    'demo.v1.Echo/Chat',
    {
      onMessage: (m) => seen.push(m.text),
      onEnd: (e) => seen.push(String(e.status.code)),
      onError: (e) => seen.push(e.category + e.retryable + (e.grpcCode ?? '')),
    },
  );
  chat.send({ user: 'me', text: 'one' });
  chat.end();
  await chat.done;
  const chat2 = client.bidiStream<ChatMessage, ChatMessage>('demo.v1.Echo/Chat');
  chat2.send({ text: 'two' });
  chat2.end();
  try {
    for await (const m of chat2) seen.push(m.text);
  } catch (e) {
    if (e instanceof BridgeError) seen.push(e.category, String(e.retryAfterMs));
  }
  const chat3 = client.bidiStream<ChatMessage, ChatMessage>('demo.v1.Echo/Chat', { payload: { text: 'x' } });
  chat3.cancel();
  client.cancel(chat3.messageId);

  // Channels.
  const sub = client.subscribe<{ kind: string }>('chat:lobby', {
    params: { room: 'lobby' },
    since: { offset: 41, epoch: 'e-9f1c' },
    onPublication: (data, pos) => seen.push(data.kind + pos.offset + pos.epoch),
    onSubscribed: (s) => seen.push(String(s.recovered) + (s.since ? s.since.offset : '')),
    onUnsubscribed: (s) => seen.push(s.channel),
    onError: (e) => seen.push(e.message),
  });
  seen.push(sub.channel);
  client.unsubscribe('chat:lobby');
  client.refresh('next-token');

  const info = BridgeClient.closeCodeInfo(4000);
  seen.push(info.category, String(BridgeClient.isRetryable('timeout')));
  off();
  client.close();
  return seen;
}

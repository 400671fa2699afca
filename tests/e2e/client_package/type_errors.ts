// Mistakes a TypeScript user could make with the client; the declarations must reject each.
// Every `@ts-expect-error` line is checked by tsc (an unused one is itself an error), and
// client_package_test also removes them and checks that tsc then reports an error on each
// line below one.
import { BridgeClient, BridgeError } from 'grpc-ws-bridge-client';

interface ChatMessage {
  text: string;
}

export async function mistakes(): Promise<void> {
  // @ts-expect-error the URL is required
  new BridgeClient();
  // @ts-expect-error timeouts are milliseconds, not strings
  new BridgeClient('/ws', { handshakeTimeoutMs: '10s' });
  // @ts-expect-error no such jitter
  new BridgeClient('/ws', { reconnect: { jitter: 'half' } });
  // @ts-expect-error the token goes in connect or the subprotocol, not a header
  new BridgeClient('/ws', { tokenIn: 'header' });

  const client = new BridgeClient('/ws');
  // @ts-expect-error no such event
  client.on('message', () => {});
  // @ts-expect-error state handlers get a StateEvent, not a string
  client.on('state', (s: string) => s);
  // @ts-expect-error the method name is required
  client.call();
  // @ts-expect-error a call is a promise, not its reply
  const text: string = client.call<{ text: string }>('demo.v1.Echo/Say', {}).text;
  // @ts-expect-error timeoutMs is a number
  client.call('demo.v1.Echo/Say', {}, { timeoutMs: '5s' });
  // @ts-expect-error metadata values are strings
  client.call('demo.v1.Echo/Say', {}, { metadata: { 'x-n': 1 } });

  // @ts-expect-error a server stream takes no more request messages
  client.serverStream('demo.v1.Echo/Repeat', { count: 3 }).send({});
  // @ts-expect-error nor a half-close
  client.serverStream('demo.v1.Echo/Repeat', { count: 3 }).end();

  const chat = client.bidiStream<ChatMessage, ChatMessage>('demo.v1.Echo/Chat');
  // @ts-expect-error the request type is ChatMessage
  chat.send({ txt: 'typo' });
  // @ts-expect-error the first request message too
  client.bidiStream<ChatMessage, ChatMessage>('demo.v1.Echo/Chat', { payload: 42 });
  for await (const m of chat) {
    // @ts-expect-error replies are ChatMessage
    m.user;
  }
  // @ts-expect-error a bidi stream ends with a StreamEnd, not a reply
  const reply: ChatMessage = await chat.done;

  const collect = client.clientStream<ChatMessage, { texts: string[] }>('demo.v1.Echo/Collect');
  // @ts-expect-error a client stream has one reply, not an iterator
  for await (const m of collect) m;
  // @ts-expect-error its reply is `done`
  collect.response;
  // @ts-expect-error cancel takes the call's messageId
  client.cancel(7);

  // @ts-expect-error subscribe needs a channel
  client.subscribe({ onPublication: () => {} });
  client.subscribe('news', {
    // @ts-expect-error the position's offset is a number
    onPublication: (data, pos) => pos.offset.toUpperCase(),
  });
  // @ts-expect-error a position needs its epoch
  client.subscribe('news', { since: { offset: 41 } });
  // @ts-expect-error a call's traceparent is a string
  client.call('demo.v1.Echo/Say', {}, { traceparent: { traceId: 'x' } });
  // @ts-expect-error no such JSON mapping option
  new BridgeClient('/ws', { jsonMapping: { camelCase: true } });

  client.on('error', (e) => {
    // @ts-expect-error not a category
    if (e.category === 'network_failure') return;
    // @ts-expect-error the error is read-only
    e.retryable = true;
  });
  // @ts-expect-error categories are the protocol's
  new BridgeError('oops');
  // @ts-expect-error the state is read-only
  client.state = 'confirmed';
  void text;
  void reply;
}

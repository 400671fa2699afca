// The fault proxy driven by a real Toxiproxy client library (toxiproxy-node-client 4.1.0, from
// npm, installed by bazel/install_deps.sh): the flow an existing Toxiproxy-based CI job runs,
// every call checked for its answer, and each toxic's effect checked on real TCP traffic
// through the proxy to an echo server of this test's own.
//
// Usage: node toxiproxy_client_test.js FAULT_PROXY_BINARY NODE_MODULES_DIR
'use strict';

const assert = require('assert');
const { spawn } = require('child_process');
const net = require('net');
const path = require('path');

const [binary, modules] = process.argv.slice(2);
const { Toxiproxy } = require(path.join(modules, 'toxiproxy-node-client'));

// Starts the fault proxy on free ports; resolves with the API address once it says it.
function startFaultProxy() {
  const child = spawn(binary, ['--api_listen=127.0.0.1:0', '--grpc_listen='], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/HTTP API on (http:\/\/[0-9.:]+)/);
      if (m) resolve({ child, api: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`fault_proxy exited with ${code}: ${out}`)));
  });
}

// An echo server on a free port.
function startEcho() {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});  // reset_peer resets this side too
    socket.pipe(socket);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// Connects to `port`, writes `text`, and resolves with what came back and how: the bytes, the
// milliseconds until the first byte, and whether the peer closed. Ends after `waitMs` of
// silence once something arrived, or at close.
function exchange(port, text, { waitMs = 300 } = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    let data = '';
    let firstMs = null;
    let timer = null;
    const socket = net.connect(port, '127.0.0.1');
    const done = (how) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ data, firstMs, how });
    };
    socket.on('connect', () => socket.write(text));
    socket.on('data', (chunk) => {
      if (firstMs === null) firstMs = Date.now() - started;
      data += chunk;
      clearTimeout(timer);
      timer = setTimeout(() => done('open'), waitMs);
    });
    socket.on('end', () => done('closed'));
    socket.on('error', (e) => done(e.code));
    // Nothing at all within 2 s: a black hole.
    timer = setTimeout(() => done('silent'), 2000);
  });
}

async function main() {
  const echo = await startEcho();
  const upstream = `127.0.0.1:${echo.address().port}`;
  const { child, api } = await startFaultProxy();
  const checks = [];
  const check = async (name, fn) => {
    await fn();
    checks.push(name);
  };
  try {
    const toxiproxy = new Toxiproxy(api);

    await check('version', async () => {
      const version = await toxiproxy.getVersion();
      assert.match(version, /2\.\d+\.\d+/);
    });

    let proxy;
    await check('create', async () => {
      proxy = await toxiproxy.createProxy({ name: 'echo', listen: '127.0.0.1:0', upstream });
      assert.strictEqual(proxy.name, 'echo');
      assert.strictEqual(proxy.enabled, true);
      assert.match(proxy.listen, /^127\.0\.0\.1:[1-9][0-9]*$/);
    });
    const port = Number(proxy.listen.split(':')[1]);

    await check('traffic passes unchanged', async () => {
      const r = await exchange(port, 'hello');
      assert.strictEqual(r.data, 'hello');
    });

    await check('populate', async () => {
      const proxies = await toxiproxy.populate([
        { name: 'echo', listen: proxy.listen, upstream },
        { name: 'second', listen: '127.0.0.1:0', upstream },
      ]);
      assert.deepStrictEqual(Object.keys(proxies).sort(), ['echo', 'second']);
      assert.strictEqual(proxies.echo.listen, proxy.listen);  // not rebound
      const second = Number(proxies.second.listen.split(':')[1]);
      assert.strictEqual((await exchange(second, 'two')).data, 'two');
    });

    await check('get and list', async () => {
      assert.strictEqual((await toxiproxy.get('echo')).upstream, upstream);
      assert.deepStrictEqual(Object.keys(await toxiproxy.getAll()).sort(), ['echo', 'second']);
    });

    let latency;
    await check('latency toxic: add, effect', async () => {
      latency = await proxy.addToxic({
        name: 'slow', type: 'latency', stream: 'downstream', toxicity: 1,
        attributes: { latency: 300, jitter: 0 },
      });
      assert.strictEqual(latency.name, 'slow');
      const r = await exchange(port, 'x');
      assert.strictEqual(r.data, 'x');
      assert.ok(r.firstMs >= 300, `first byte after ${r.firstMs} ms`);
    });

    await check('toxic: get, update, effect', async () => {
      const got = await proxy.getToxic('slow');
      assert.strictEqual(got.attributes.latency, 300);
      const updated = await got.update({ ...got.toJson(), attributes: { latency: 700, jitter: 0 } });
      assert.strictEqual(updated.attributes.latency, 700);
      const r = await exchange(port, 'y');
      assert.ok(r.firstMs >= 700, `first byte after ${r.firstMs} ms`);
    });

    await check('toxic: remove', async () => {
      await (await proxy.getToxic('slow')).remove();
      await assert.rejects(proxy.getToxic('slow'), /404/);
    });

    await check('timeout toxic: a black hole', async () => {
      await proxy.addToxic({ name: 'hole', type: 'timeout', stream: 'downstream', toxicity: 1,
                             attributes: { timeout: 0 } });
      const r = await exchange(port, 'z');
      assert.strictEqual(r.data, '');
      await (await proxy.getToxic('hole')).remove();
    });

    await check('limit_data toxic: closed after the bytes', async () => {
      await proxy.addToxic({ name: 'cap', type: 'limit_data', stream: 'downstream', toxicity: 1,
                             attributes: { bytes: 4 } });
      const r = await exchange(port, 'abcdefgh');
      assert.strictEqual(r.data, 'abcd');
      assert.strictEqual(r.how, 'closed');
    });

    await check('bandwidth toxic: a reply takes its time', async () => {
      await (await proxy.getToxic('cap')).remove();
      await proxy.addToxic({ name: 'thin', type: 'bandwidth', stream: 'downstream', toxicity: 1,
                             attributes: { rate: 10 } });
      const big = 'b'.repeat(5000);  // 5000 bytes at 10 KB/s: 0.5 s at the least
      const started = Date.now();
      const r = await exchange(port, big, { waitMs: 400 });
      assert.strictEqual(r.data, big);
      assert.ok(Date.now() - started >= 500 + 400, `took ${Date.now() - started} ms`);
      await (await proxy.getToxic('thin')).remove();
    });

    await check('slicer toxic: the bytes arrive whole, in pieces', async () => {
      await proxy.addToxic({ name: 'cut', type: 'slicer', stream: 'downstream', toxicity: 1,
                             attributes: { average_size: 2, size_variation: 1, delay: 1000 } });
      const r = await exchange(port, 'sliced into pieces');
      assert.strictEqual(r.data, 'sliced into pieces');
      await (await proxy.getToxic('cut')).remove();
    });

    await check('reset_peer toxic: the connection is reset', async () => {
      await proxy.addToxic({ name: 'rst', type: 'reset_peer', stream: 'downstream', toxicity: 1,
                             attributes: { timeout: 0 } });
      const r = await exchange(port, 'r');
      assert.ok(r.how === 'ECONNRESET' || r.how === 'closed', `ended ${r.how}`);
      assert.strictEqual(r.data, '');
      await (await proxy.getToxic('rst')).remove();
      await proxy.addToxic({ name: 'cap', type: 'limit_data', stream: 'downstream', toxicity: 1,
                             attributes: { bytes: 4 } });
    });

    await check('plain HTTP: the status codes', async () => {
      const status = async (method, p, body) =>
        (await fetch(`${api}${p}`, { method, body })).status;
      assert.strictEqual(await status('GET', '/proxies/none'), 404);
      assert.strictEqual(await status('GET', '/proxies/echo/toxics/none'), 404);
      assert.strictEqual(await status('DELETE', '/proxies/none'), 404);
      assert.strictEqual(
          await status('POST', '/proxies',
                       JSON.stringify({ name: 'echo', listen: '127.0.0.1:0', upstream })), 409);
      assert.strictEqual(await status('POST', '/proxies', '{not json'), 400);
      assert.strictEqual(await status('POST', '/proxies/echo/toxics', '{"type":"nope"}'), 400);
      assert.strictEqual(await status('POST', '/populate', '{"name":"x"}'), 400);
      assert.strictEqual(await status('DELETE', '/reset'), 405);
      assert.strictEqual(await status('GET', '/no/such/path'), 404);
    });

    await check('WebSocket toxic through the same endpoints', async () => {
      const ws = await proxy.addToxic({ name: 'ws', type: 'ws_close', stream: 'downstream',
                                       toxicity: 1, attributes: { code: 1011 } });
      assert.strictEqual(ws.attributes.code, 1011);
    });

    await check('disable keeps the toxics; connections refused', async () => {
      const disabled = await proxy.update({ ...proxy.toJson(), enabled: false });
      assert.strictEqual(disabled.enabled, false);
      assert.strictEqual((await exchange(port, 'q')).how, 'ECONNREFUSED');
      const enabled = await disabled.update({ ...disabled.toJson(), enabled: true });
      assert.strictEqual(enabled.enabled, true);
      assert.strictEqual(enabled.listen, proxy.listen);
      assert.ok(await proxy.getToxic('cap'));
      assert.ok(await proxy.getToxic('ws'));
    });

    await check('reset: every toxic gone, every proxy enabled', async () => {
      await (await toxiproxy.get('second')).update({ name: 'second', enabled: false });
      await toxiproxy.reset();
      await assert.rejects(proxy.getToxic('cap'), /404/);
      assert.strictEqual((await toxiproxy.get('second')).enabled, true);
      assert.strictEqual((await exchange(port, 'back')).data, 'back');
    });

    await check('remove a proxy', async () => {
      await (await toxiproxy.get('second')).remove();
      await assert.rejects(toxiproxy.get('second'), /404/);
    });

    await check('errors: duplicates and bad bodies', async () => {
      await assert.rejects(
          toxiproxy.createProxy({ name: 'echo', listen: '127.0.0.1:0', upstream }), /409/);
      await assert.rejects(
          proxy.addToxic({ name: 'bad', type: 'no_such_toxic', stream: 'downstream' }), /400/);
    });
    console.log(`PASS ${checks.length} checks: ${checks.join('; ')}`);
  } finally {
    child.kill('SIGTERM');
    echo.close();
  }
}

main().catch((e) => {
  console.error('FAIL', e);
  process.exit(1);
});

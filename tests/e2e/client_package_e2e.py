"""The JavaScript client as a web developer installs it, and every call kind from a browser.

1. `npm pack` of bridge/web/client, installed offline into a new project from the tarball.
2. Types: `tsc --noEmit` (strict) passes on example.ts, which makes every call kind, and on
   type_errors.ts, whose every `@ts-expect-error` must be used; with those lines removed tsc
   must report an error on each line that followed one. Both with `exports` (node16) and with
   the older resolution (`types`).
3. Node resolves the package through its `exports` to an ES module that sets no global.
4. Headless Chromium loads the installed module (an import map naming the file Node
   resolved) from a page served out of the project: it sets no global, and the client's unit
   tests (chat_client_test.js) pass against it.
5. The same module against //:demo through //:fault_proxy: unary, server-, client- and bidi
   streaming; the connection is reset (reset_peer) with a bidi, a server and a client stream
   open: the session resumes, what was sent while cut goes out, each reply arrives once and
   in order. With resume off: a new session, a bidi call that had replies fails with a
   retryable network_error, an idempotent client stream is sent again whole. A stream failed
   by the backend mid-way, and a cancelled one. A call given a traceparent reaches the backend
   as a child span of the browser's (the backend returns what it got), and the bridge's log
   line for it names the browser's trace. A subscription from a known position gets what was
   published after it, then what is new.
6. The /streams demo page, served by the bridge through the proxy, talks on a bidi stream
   across a cut.

Usage: client_package_e2e.py DEMO FAULT_PROXY PACKAGE_DIR TS_DIR UNIT_TEST_JS
"""
import asyncio
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading

from chat_cdp import Browser, CdpError
from e2e_checks import check, summary
from e2e_processes import DEADLINE, DemoBehindProxy

DEMO, FAULT_PROXY, PACKAGE_DIR, TS_DIR, UNIT_TEST_JS = sys.argv[1:6]
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
BROWSER_SPAN = "b7ad6b7169203331"
TMP = os.environ.get("TEST_TMPDIR") or tempfile.mkdtemp()
NAME = "grpc-ws-bridge-client"
ENV = dict(os.environ, HOME=TMP, npm_config_cache=os.path.join(TMP, "npm-cache"),
           npm_config_update_notifier="false")


def run(argv, cwd):
    return subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300)


def pack_and_install():
    """The tarball of the package, installed into a new project; returns the project."""
    source = os.path.join(TMP, "package-source")
    shutil.copytree(PACKAGE_DIR, source)  # runfiles are symlinks; npm packs files
    done = run(["npm", "pack", "--offline", "--pack-destination", TMP], source)
    check("npm pack", done.returncode == 0, done.stderr)
    tarball = os.path.join(TMP, done.stdout.strip().splitlines()[-1])
    with tarfile.open(tarball) as tar:
        names = sorted(tar.getnames())
    check("the tarball holds the module, its types and package.json",
          names == ["package/bridge-client.d.ts", "package/bridge-client.js",
                    "package/package.json"], names)

    project = os.path.join(TMP, "project")
    os.makedirs(project)
    with open(os.path.join(project, "package.json"), "w") as f:
        json.dump({"name": "app", "version": "0.0.0", "private": True, "type": "module"}, f)
    done = run(["npm", "install", "--offline", "--no-audit", "--no-fund", tarball], project)
    check("npm install --offline of the tarball", done.returncode == 0, done.stderr)
    with open(os.path.join(project, "package.json")) as f:
        deps = json.load(f).get("dependencies", {})
    check("the project depends on the tarball", deps.get(NAME, "").startswith("file:"), deps)
    return project


def tsc(project, files, resolution):
    config = os.path.join(project, f"tsconfig.{resolution}.json")
    module = "node16" if resolution == "node16" else "es2020"
    with open(config, "w") as f:
        json.dump({"compilerOptions": {
            "strict": True, "noEmit": True, "module": module, "moduleResolution": resolution,
            "target": "es2020", "lib": ["es2020", "dom"], "types": [],
        }, "files": files}, f)
    return run(["/usr/bin/tsc", "-p", config], project)


def check_types(project):
    for name in ("example.ts", "type_errors.ts"):
        shutil.copy(os.path.join(TS_DIR, name), project)
    for resolution in ("node16", "node"):
        done = tsc(project, ["example.ts", "type_errors.ts"], resolution)
        check(f"tsc --noEmit ({resolution}): example.ts passes and every @ts-expect-error in "
              "type_errors.ts is used", done.returncode == 0, done.stdout)

    with open(os.path.join(TS_DIR, "type_errors.ts")) as f:
        lines = f.read().split("\n")
    expected = {i + 2 for i, l in enumerate(lines) if re.match(r"\s*// @ts-expect-error ", l)}
    bare = [re.sub(r"// @ts-expect-error .*", "//", l) for l in lines]
    with open(os.path.join(project, "type_errors_bare.ts"), "w") as f:
        f.write("\n".join(bare))
    done = tsc(project, ["type_errors_bare.ts"], "node16")
    reported = {int(n) for n in re.findall(r"type_errors_bare\.ts\((\d+),", done.stdout)}
    check(f"without the directives tsc rejects each of the {len(expected)} mistakes",
          done.returncode != 0 and len(expected) >= 20 and reported == expected,
          f"missing {sorted(expected - reported)}, unexpected {sorted(reported - expected)}")


def check_node(project):
    script = ("import * as m from '" + NAME + "';"
              "console.log(JSON.stringify({url: import.meta.resolve('" + NAME + "'),"
              " exports: Object.keys(m).sort(), global: typeof globalThis.BridgeClient,"
              " kinds: ['call','serverStream','clientStream','bidiStream','stream']"
              ".map((k) => typeof m.BridgeClient.prototype[k])}))")
    done = run(["node", "--input-type=module", "-e", script], project)
    check("node imports the package", done.returncode == 0, done.stderr)
    found = json.loads(done.stdout)
    check("node: named exports, no global, every call kind",
          found["exports"] == ["BridgeCall", "BridgeClient", "BridgeError"]
          and found["global"] == "undefined" and set(found["kinds"]) == {"function"}, found)
    prefix = "file://" + os.path.realpath(project)
    check("node resolves it through `exports` into node_modules",
          found["url"].startswith(prefix + "/node_modules/" + NAME + "/"), found["url"])
    return found["url"][len(prefix):]


def serve(project, module_path):
    """An HTTP server on port 0 for the project, with index.html importing the package."""
    with open(os.path.join(project, "index.html"), "w") as f:
        f.write(f"""<!doctype html><meta charset="utf-8">
<script type="importmap">{json.dumps({"imports": {NAME: module_path}})}</script>
<script type="module">
  window.globalAfterImport = typeof globalThis.BridgeClient;
  import * as pkg from '{NAME}';
  window.pkg = pkg;
</script>""")
    handler = functools.partial(Quiet, directory=project)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


async def unit_tests(browser, base):
    page = await browser.open(f"{base}/index.html")
    await page.wait("window.pkg", DEADLINE, "the module loaded")
    check("the installed ES module sets no global",
          await page.evaluate("window.globalAfterImport + ' ' + typeof globalThis.BridgeClient")
          == "undefined undefined")
    await page.evaluate("window.BridgeClient = pkg.BridgeClient; true")
    with open(UNIT_TEST_JS) as f:
        await page.evaluate(f.read())
    report = await page.evaluate("runBridgeClientTests()", deadline_s=60)
    failed = [r for r in report["results"] if not r["ok"]]
    check(f"the client's {len(report['results'])} unit tests pass on the installed module",
          report["passed"] > 30 and not failed, failed)


# Scripts run in the page. Each reply stream is read by `for await` into an array.
SETUP = """
window.client = new pkg.BridgeClient(%s, {
  clientId: 'package-e2e', reconnect: { baseMs: 100, maxMs: 500, attempts: Infinity } });
window.states = [];
client.on('state', (s) => states.push({ state: s.state, category: s.category, resumed: s.resumed }));
window.read = (call) => {
  const out = { replies: [], end: null, error: null };
  (async () => {
    try {
      for await (const r of call) out.replies.push(r.sequence || r.text);
      out.end = (await call.done).status.code;
    } catch (e) {
      out.error = { category: e.category, retryable: e.retryable, grpcCode: e.grpcCode };
    }
  })();
  return out;
};
window.outcome = (promise) => promise.then((v) => ({ value: v }),
                                           (e) => ({ category: e.category }));
client.connect();
true
"""


async def cut(page, proxy, what):
    """Resets the connection; waits for the page's client to see it. Returns the states seen
    so far."""
    before = await page.evaluate("states.length")
    proxy.cut()
    lost = await page.wait(
        f"states.slice({before}).find(s => s.state === 'disconnected')", DEADLINE,
        f"{what}: disconnected")
    check(f"{what}: the reset is a network_error", lost["category"] == "network_error", lost)
    return before


async def restore(page, proxy, before, resumed, what):
    proxy.restore()
    back = await page.wait(f"states.slice({before}).find(s => s.state === 'confirmed')",
                           DEADLINE, f"{what}: confirmed again")
    check(f"{what}: confirmed again, resumed {resumed}", back["resumed"] is resumed, back)


async def every_call_kind(browser, base, servers):
    page = await browser.open(f"{base}/index.html")
    await page.wait("window.pkg", DEADLINE, "the module loaded")
    proxy = servers.proxy
    await page.evaluate(SETUP % json.dumps(f"ws://127.0.0.1:{servers.proxy_port}/ws"))
    await page.wait("client.state === 'confirmed'", DEADLINE, "connected through the proxy")

    said = await page.evaluate(
        "client.call('demo.v1.Echo/Say', { text: 'hi' }, { timeoutMs: 5000 }).then((r) => r.text)")
    check("unary: Say answers", said == "hi", said)

    # A subscription from a known position: what came after it, then what is new.
    await page.evaluate("""(async () => {
      const post = (text) => client.call('demo.v1.Chat/Post', { room: 'since', name: 'e2e', text });
      const first = await post('one');
      await post('two');
      await post('three');
      window.sinceSeen = [];
      window.sinceSubscribed = [];
      client.subscribe('chat:since', {
        since: { offset: Number(first.offset), epoch: first.epoch },
        onSubscribed: (s) => sinceSubscribed.push(s.recovered),
        onPublication: (data) => sinceSeen.push(data.text),
      });
      return true;
    })()""")
    await page.wait("sinceSeen.length >= 2", DEADLINE, "since: the replay")
    await page.evaluate("client.call('demo.v1.Chat/Post', { room: 'since', name: 'e2e', text: 'four' })")
    await page.wait("sinceSeen.length >= 3", DEADLINE, "since: a new publication")
    seen = await page.evaluate("[sinceSubscribed, sinceSeen]")
    check("since: recovered, the publications after the position, then the new one",
          seen == [[True], ["two", "three", "four"]], seen)
    await page.evaluate("client.unsubscribe('chat:since'); true")

    # A trace started in the browser reaches the backend as a child span of the browser's.
    trailers = await page.evaluate(
        "client.serverStream('demo.v1.Echo/Repeat', { text: 't', count: 1 }, "
        "{ traceparent: %s, onMessage: () => {} }).done.then((end) => end.trailers)"
        % json.dumps(f"00-{TRACE_ID}-{BROWSER_SPAN}-01"))
    received = (trailers or {}).get("x-echo-received-traceparent", "")
    parts = received.split("-")
    check("trace: the backend got the browser's trace id, under a span of the bridge's own",
          len(parts) == 4 and parts[1] == TRACE_ID and parts[2] not in ("", BROWSER_SPAN),
          trailers)

    # Three streams open across a reset.
    await page.evaluate("""
      window.chat = client.bidiStream('demo.v1.Echo/Chat');
      window.chatOut = read(chat);
      chat.send({ text: 'one' });
      chat.send({ text: 'two' });
      window.repeatOut = read(client.serverStream('demo.v1.Echo/Repeat',
          { text: 'r', count: 40, interval: '0.100s' }));
      window.collect = client.clientStream('demo.v1.Echo/Collect', { payload: { text: 'a' } });
      collect.send({ text: 'b' });
      true""")
    await page.wait("chatOut.replies.length === 2 && repeatOut.replies.length >= 2", DEADLINE,
                    "bidi and server stream replies before the reset")
    # A reply to a later frame on the same connection: the bridge has read collect's frames.
    await page.evaluate("client.call('demo.v1.Echo/Say', { text: 'sync' })")
    before = await cut(page, proxy, "resume")
    at_cut = await page.evaluate("repeatOut.replies.length")
    check("resume: the reset came in the middle of the server stream", 0 < at_cut < 40, at_cut)
    await page.evaluate("""
      chat.send({ text: 'three' });
      collect.send({ text: 'c' });
      collect.end();
      window.collected = outcome(collect.done);
      window.queued = outcome(client.call('demo.v1.Echo/Say', { text: 'queued' }));
      true""")
    check("resume: nothing goes out while cut",
          await page.evaluate("client.state") != "confirmed"
          and await page.evaluate("chatOut.replies.length") == 2)
    await restore(page, proxy, before, True, "resume")

    await page.wait("chatOut.replies.length === 3", DEADLINE, "the bidi reply to 'three'")
    await page.evaluate("chat.send({ text: 'four' }); chat.end(); true")
    chat = await page.wait("chatOut.end !== null || chatOut.error !== null ? chatOut : null",
                           DEADLINE, "the bidi stream's end")
    check("resume: the bidi stream goes on; each reply once, in order; ends OK",
          chat["replies"] == ["one", "two", "three", "four"] and chat["end"] == 0, chat)
    repeat = await page.wait("repeatOut.end !== null || repeatOut.error !== null ? repeatOut : null",
                             DEADLINE, "the server stream's end")
    check("resume: the server stream's 40 replies arrive once each, in order, then OK",
          repeat["replies"] == [str(n) for n in range(1, 41)] and repeat["end"] == 0,
          repeat)
    collected = await page.evaluate("collected")
    check("resume: the client stream has what was sent before, during and after the cut",
          collected.get("value", {}).get("texts") == ["a", "b", "c"], collected)
    queued = await page.evaluate("queued")
    check("resume: a unary call made while cut is answered",
          queued.get("value", {}).get("text") == "queued", queued)

    # A stream the backend fails mid-way, and one the client cancels.
    failed = await page.evaluate("""(async () => {
      const call = client.bidiStream('demo.v1.Echo/Chat', { metadata: { 'demo-fail-after': '1' } });
      const out = read(call);
      call.send({ text: 'x' });
      call.send({ text: 'y' });
      await call.done.catch(() => {});
      await new Promise((r) => setTimeout(r, 0));
      return out;
    })()""")
    check("a bidi stream failed by the backend: its reply, then the error (internal, 13)",
          failed["replies"] == ["x"] and failed["error"]["category"] == "internal"
          and failed["error"]["grpcCode"] == 13, failed)
    cancelled = await page.evaluate("""(async () => {
      const call = client.bidiStream('demo.v1.Echo/Chat');
      const out = read(call);
      call.send({ text: 'z' });
      while (out.replies.length === 0) await new Promise((r) => setTimeout(r, 10));
      call.cancel();
      await call.done.catch(() => {});
      await new Promise((r) => setTimeout(r, 0));
      return out;
    })()""", deadline_s=DEADLINE)
    check("a cancelled bidi stream ends with cancelled",
          cancelled["replies"] == ["z"] and cancelled["error"]["category"] == "cancelled",
          cancelled)

    # Resume off: a new session.
    await page.evaluate("""
      client.options.resume = false;
      window.lost = client.bidiStream('demo.v1.Echo/Chat');
      window.lostOut = read(lost);
      lost.send({ text: 'l' });
      window.again = client.clientStream('demo.v1.Echo/Collect', { idempotent: true });
      again.send({ text: 'p' });
      true""")
    await page.wait("lostOut.replies.length === 1", DEADLINE, "a reply before the second reset")
    await page.evaluate("client.call('demo.v1.Echo/Say', { text: 'sync' })")
    before = await cut(page, proxy, "new session")
    await restore(page, proxy, before, False, "new session")
    lost = await page.wait("lostOut.error", DEADLINE, "the answered bidi call's end")
    check("new session: a bidi call that had replies fails, network_error, retryable",
          lost["category"] == "network_error" and lost["retryable"] is True, lost)
    again = await page.evaluate("""(async () => {
      again.send({ text: 'q' });
      again.end();
      return outcome(again.done);
    })()""")
    check("new session: an idempotent client stream is sent again whole",
          again.get("value", {}).get("texts") == ["p", "q"], again)
    await page.evaluate("client.close(); true")


async def streams_page(browser, servers):
    """The /streams demo page through the proxy: a bidi stream across a reset."""
    page = await browser.open(f"http://127.0.0.1:{servers.proxy_port}/streams",
                              await browser.new_context())
    state = "document.getElementById('state').dataset.state"
    replies = "[...document.querySelectorAll('#replies li.reply')].map(li => li.textContent)"
    await page.wait(f"{state} === 'confirmed'", DEADLINE, "/streams connected")
    await page.evaluate("window.states = []; streamsClient.on('state', (s) => states.push("
                        "{state: s.state, category: s.category, resumed: s.resumed})); true")
    for text in ("hello",):
        await page.type_text("#text", text)
        await page.press_enter()
    await page.wait(f"({replies}).length === 1", DEADLINE, "/streams: the echo")
    before = await cut(page, servers.proxy, "/streams")
    await page.type_text("#text", "while away")
    await page.press_enter()
    await restore(page, servers.proxy, before, True, "/streams")
    shown = await page.wait(f"(r => r.length === 2 && r)({replies})", DEADLINE,
                            "/streams: the echo of what was typed while cut")
    check("/streams: one bidi stream, each echo once, across the reset",
          shown == ["hello", "while away"], shown)


async def browser_checks(project, module_path, servers):
    server = serve(project, module_path)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    browser = await Browser.start(TMP)
    try:
        await unit_tests(browser, base)
        await every_call_kind(browser, base, servers)
        await streams_page(browser, servers)
    except CdpError as e:
        check("browser scenario", False, e)
    finally:
        await browser.close()
        server.shutdown()


def main():
    project = pack_and_install()
    check_types(project)
    module_path = check_node(project)
    # Debug lines: call_finished, with the call's trace, is one.
    servers = DemoBehindProxy(DEMO, FAULT_PROXY, TMP, demo_config='log_level: "debug"\n')
    try:
        asyncio.run(browser_checks(project, module_path, servers))
    finally:
        servers.stop()
    with open(servers.demo_log_path) as f:
        traced = [line for line in f if f'"trace_id":"{TRACE_ID}"' in line]
    check("trace: the bridge's log line for the call names the browser's trace",
          any('"event":"call_finished"' in line for line in traced), traced)
    return summary()


if __name__ == "__main__":
    sys.exit(main())

"""Headless Chromium driven over the Chrome DevTools Protocol, for the chat tests.

Only Debian packages: /usr/bin/chromium and python3-websockets. Chromium picks its own
debugging port (--remote-debugging-port=0) and writes it to DevToolsActivePort in its user
data directory; every wait has a deadline.
"""
import asyncio
import itertools
import json
import os
import shutil
import subprocess
import tempfile

import websockets

CHROMIUM = "/usr/bin/chromium"


class CdpError(Exception):
    pass


async def wait_for_file(path, deadline_s, proc):
    """Waits until `path` exists and is not empty; fails if `proc` exits first."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while True:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            with open(path) as f:
                text = f.read()
            if "\n" in text:
                return text
        if proc.poll() is not None:
            raise CdpError(f"chromium exited with {proc.returncode}")
        if loop.time() > end:
            raise CdpError(f"no {path} within {deadline_s} s")
        await asyncio.sleep(0.05)


class Browser:
    """One Chromium process and the CDP connection to it."""

    def __init__(self, proc, ws, profile, log):
        self._proc = proc
        self._ws = ws
        self._profile = profile
        self._log = log
        self._ids = itertools.count(1)
        self._pending = {}
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, tmp_dir=None, deadline_s=30.0):
        profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp_dir)
        log = open(os.path.join(profile, "chromium.log"), "w")
        env = dict(os.environ, HOME=profile)
        proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--disable-background-networking", "--disable-sync",
             # Pages in the background keep their timers: heartbeats and reconnects run on time.
             "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
             "--disable-backgrounding-occluded-windows",
             "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
            stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            text = await wait_for_file(os.path.join(profile, "DevToolsActivePort"), deadline_s,
                                       proc)
            port, path = text.split("\n")[:2]
            ws = await asyncio.wait_for(
                websockets.connect(f"ws://127.0.0.1:{port}{path}", max_size=None), deadline_s)
        except BaseException:
            proc.kill()
            proc.wait()
            log.close()
            shutil.rmtree(profile, ignore_errors=True)
            raise
        return cls(proc, ws, profile, log)

    async def close(self):
        try:
            await asyncio.wait_for(self.send("Browser.close"), 5)
        except Exception:
            pass
        self._reader.cancel()
        await self._ws.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._log.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def log_tail(self, lines=30):
        with open(os.path.join(self._profile, "chromium.log")) as f:
            return "".join(f.readlines()[-lines:])

    async def _read(self):
        async for message in self._ws:
            msg = json.loads(message)
            future = self._pending.pop(msg.get("id"), None)
            if future is not None and not future.done():
                future.set_result(msg)

    async def send(self, method, params=None, session_id=None, deadline_s=30.0):
        """One CDP command; returns its result or raises CdpError."""
        msg_id = next(self._ids)
        msg = {"id": msg_id, "method": method, "params": params or {}}
        if session_id is not None:
            msg["sessionId"] = session_id
        future = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        await self._ws.send(json.dumps(msg))
        reply = await asyncio.wait_for(future, deadline_s)
        if "error" in reply:
            raise CdpError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def new_context(self):
        """A browser context of its own: cookies, storage and connections apart from others."""
        result = await self.send("Target.createBrowserContext", {"disposeOnDetach": True})
        return result["browserContextId"]

    async def open(self, url, context_id=None):
        """A new page at `url` (in `context_id` when given), loaded."""
        params = {"url": "about:blank"}
        if context_id is not None:
            params["browserContextId"] = context_id
        target = await self.send("Target.createTarget", params)
        attached = await self.send("Target.attachToTarget",
                                   {"targetId": target["targetId"], "flatten": True})
        page = Page(self, attached["sessionId"])
        await page.send("Page.enable")
        await page.send("Runtime.enable")
        if url != "about:blank":
            await page.navigate(url)
        return page


class Page:
    """One page (a CDP session attached to its target)."""

    def __init__(self, browser, session_id):
        self._browser = browser
        self._session = session_id

    async def send(self, method, params=None, deadline_s=30.0):
        return await self._browser.send(method, params, self._session, deadline_s)

    async def navigate(self, url, deadline_s=30.0):
        result = await self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise CdpError(f"cannot load {url}: {result['errorText']}")
        await self.wait("document.readyState === 'complete'", deadline_s, f"{url} loaded")

    async def evaluate(self, expression, deadline_s=30.0):
        """The value of `expression` (awaited when it is a promise)."""
        result = await self.send("Runtime.evaluate", {
            "expression": expression, "returnByValue": True, "awaitPromise": True,
        }, deadline_s=deadline_s + 5)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            exception = details.get("exception", {})
            raise CdpError(exception.get("description") or details.get("text") or str(details))
        return result["result"].get("value")

    async def wait(self, condition, deadline_s, what):
        """Waits until the JavaScript expression `condition` is truthy, checked in the page
        every 25 ms; returns its value, or raises CdpError naming `what` after `deadline_s`."""
        expression = f"""new Promise((resolve, reject) => {{
          const end = Date.now() + {int(deadline_s * 1000)};
          (function check() {{
            let value;
            try {{ value = ({condition}); }} catch (e) {{ value = undefined; }}
            if (value) resolve(value);
            else if (Date.now() > end) reject(new Error('timed out'));
            else setTimeout(check, 25);
          }})();
        }})"""
        try:
            return await self.evaluate(expression, deadline_s)
        except CdpError as e:
            raise CdpError(f"waiting for {what}: {e}") from None

    async def type_text(self, selector, text):
        """Focuses `selector` and types `text` as keyboard input (input events fire)."""
        await self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        await self.send("Input.insertText", {"text": text})

    async def press_enter(self):
        for kind in ("keyDown", "keyUp"):
            params = {"type": kind, "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13,
                      "nativeVirtualKeyCode": 13}
            if kind == "keyDown":
                params["text"] = "\r"
            await self.send("Input.dispatchKeyEvent", params)

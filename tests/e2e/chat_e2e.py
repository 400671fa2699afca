"""The chat demo end to end: //:demo, two people in headless Chromium, a fault proxy between
one of them and the bridge.

alice's page comes through //:fault_proxy, bob's straight from the bridge; each in a browser
context of its own. They see each other online, alice's typing shows on bob's page, messages
go both ways. Then alice's connection is reset (a reset_peer toxic: the WebSocket ends without
a close frame, 1006) twice while bob writes and alice types:
  1. her client resumes the session: the server replays what bob wrote meanwhile, and the
     message she typed while offline goes out once she is back;
  2. with resume off, her client starts a new session and rejoins the channel `since` the
     last offset it saw: the server recovers bob's message from the channel's history.
Each message shows exactly once on each page. Every wait is a condition with a deadline.

Usage: chat_e2e.py DEMO FAULT_PROXY
"""
import asyncio
import json
import os
import sys
import tempfile

from chat_cdp import Browser, CdpError
from e2e_checks import check, summary
from e2e_processes import DEADLINE, DemoBehindProxy
ROOM = "e2e"
DEMO, FAULT_PROXY = sys.argv[1], sys.argv[2]
TMP = os.environ.get("TEST_TMPDIR") or tempfile.mkdtemp()

# What the page shows, read from its DOM.
STATE = "document.getElementById('state').dataset.state"
MESSAGES = ("[...document.querySelectorAll('#messages li.message')]"
            ".map(li => li.querySelector('.name').textContent + ': ' +"
            " li.querySelector('.text').textContent)")
ONLINE = "[...document.querySelectorAll('#online li')].map(li => li.textContent)"
TYPING = "document.getElementById('typing').textContent"
NOTICES = "[...document.querySelectorAll('#messages li.notice')].map(li => li.textContent)"
PAGE_TEXT = "document.body.innerText"
# Every 'state' event of the page's client from now on, in window.states.
RECORD_STATES = ("window.states = []; chatClient.on('state', (s) => states.push("
                 "{state: s.state, category: s.category, resumed: s.resumed})); true")


async def send_message(page, text):
    await page.type_text("#text", text)
    await page.press_enter()


def has(text):
    return f"({MESSAGES}).includes({json.dumps(text)})"


def count(text):
    return f"({MESSAGES}).filter(m => m === {json.dumps(text)}).length"


async def drop_and_return(proxy, alice, bob, round_name, expect_resumed):
    """Cuts alice off; bob writes and alice types while she is away; then lets her back."""
    states_before = await alice.evaluate("states.length")
    proxy.cut()
    lost = await alice.wait(
        f"states.slice({states_before}).find(s => s.state === 'disconnected')", DEADLINE,
        f"{round_name}: alice disconnected")
    check(f"{round_name}: alice's page sees the reset as network_error",
          lost["category"] == "network_error", lost)

    away = f"bob, while alice is away ({round_name})"
    offline = f"alice, typed while offline ({round_name})"
    await send_message(bob, away)
    await bob.wait(has("bob: " + away), DEADLINE, f"{round_name}: bob's message on his page")
    await send_message(alice, offline)
    await alice.wait(
        "[...document.querySelectorAll('#messages li.pending')].some(li => "
        f"li.textContent.startsWith({json.dumps(offline)}))",
        DEADLINE, f"{round_name}: alice's message waits as pending")
    check(f"{round_name}: alice is still disconnected while bob writes",
          await alice.evaluate(STATE) != "confirmed")

    proxy.restore()
    back = await alice.wait(
        f"states.slice({states_before}).find(s => s.state === 'confirmed')", DEADLINE,
        f"{round_name}: alice confirmed again")
    check(f"{round_name}: alice reconnects (resumed: {expect_resumed})",
          back["resumed"] is expect_resumed, back)
    await alice.wait(f"{STATE} === 'confirmed'", DEADLINE, f"{round_name}: alice's badge")

    await alice.wait(has("bob: " + away), DEADLINE,
                     f"{round_name}: bob's message recovered on alice's page")
    check(f"{round_name}: what bob wrote while alice was away reaches her", True)
    await bob.wait(has("alice: " + offline), DEADLINE,
                   f"{round_name}: alice's offline message on bob's page")
    check(f"{round_name}: what alice typed while offline reaches bob", True)
    await alice.wait(has("alice: " + offline), DEADLINE,
                     f"{round_name}: alice's offline message on her page")
    after = f"alice, after the reconnect ({round_name})"
    await send_message(alice, after)
    await bob.wait(has("alice: " + after), DEADLINE, f"{round_name}: a message after the return")
    check(f"{round_name}: a message typed after the reconnect reaches bob", True)
    for page, name in ((alice, "alice"), (bob, "bob")):
        counts = [await page.evaluate(count(m)) for m in ("bob: " + away, "alice: " + offline)]
        check(f"{round_name}: each message once on {name}'s page", counts == [1, 1], counts)


async def scenario(bridge_port, proxy_port, proxy):
    browser = await Browser.start(TMP)
    alice = bob = None
    try:
        query = f"room={ROOM}&base=100&max=500"
        alice = await browser.open(f"http://127.0.0.1:{proxy_port}/chat?name=alice&{query}",
                                   await browser.new_context())
        bob = await browser.open(f"http://127.0.0.1:{bridge_port}/chat?name=bob&{query}",
                                 await browser.new_context())
        check("two browser contexts", True)

        for page, name in ((alice, "alice"), (bob, "bob")):
            await page.wait(f"{STATE} === 'confirmed'", DEADLINE, f"{name} connected")
        check("both pages connect (confirmed)", True)
        for page, name in ((alice, "alice"), (bob, "bob")):
            online = await page.wait(
                f"(o => o.includes('alice') && o.includes('bob') && o)({ONLINE})", DEADLINE,
                f"presence on {name}'s page")
            check(f"{name}'s page shows both online", sorted(online) == ["alice", "bob"], online)

        await alice.type_text("#text", "hello bob")
        typing = await bob.wait(f"{TYPING}", DEADLINE, "the typing indicator on bob's page")
        check("bob sees 'alice is typing…'", typing == "alice is typing…", typing)
        check("alice does not see her own typing", await alice.evaluate(TYPING) == "")
        await alice.press_enter()
        await bob.wait(has("alice: hello bob"), DEADLINE, "alice's message on bob's page")
        await alice.wait(has("alice: hello bob"), DEADLINE, "alice's message on her page")
        check("alice's message appears on both pages", True)
        await bob.wait(f"{TYPING} === ''", DEADLINE, "the typing indicator gone")
        check("the typing indicator goes once the message is in", True)
        await send_message(bob, "hi alice")
        await alice.wait(has("bob: hi alice"), DEADLINE, "bob's message on alice's page")
        check("bob's message appears on alice's page", True)

        refused = await bob.evaluate(
            "chatClient.call('demo.v1.Chat/Post', {room: 'no spaces', name: 'bob', text: 'x'})"
            ".then(() => null, (e) => ({category: e.category, retryable: e.retryable,"
            " grpcCode: e.grpcCode, message: e.message}))")
        check("a bad room is refused: invalid_argument naming the field",
              refused is not None and refused["category"] == "invalid_argument"
              and refused["retryable"] is False and refused["grpcCode"] == 3
              and refused["message"].startswith("room"), refused)

        await alice.evaluate(RECORD_STATES)
        await drop_and_return(proxy, alice, bob, "resume", True)
        joined = await alice.evaluate("chatJoined")
        check("resume: the channel was not joined again (the session kept it)",
              joined.get("since") is None, joined)
        await alice.evaluate("chatClient.options.resume = false")
        await drop_and_return(proxy, alice, bob, "recovery", False)
        joined = await alice.evaluate("chatJoined")
        check("recovery: chat:e2e joined again since the last offset seen, recovered",
              joined.get("recovered") is True and joined.get("since", {}).get("offset", 0) > 0,
              joined)

        notices = await alice.evaluate(NOTICES)
        check("no 'messages may be missing' notice on alice's page",
              not any("missing" in n for n in notices), notices)
        online = await bob.wait(
            f"(o => o.includes('alice') && o.includes('bob') && o)({ONLINE})", DEADLINE,
            "presence after the reconnects")
        check("both still online after the reconnects", sorted(online) == ["alice", "bob"],
              online)
    except CdpError as e:
        check("chat scenario", False, e)
        for page, name in ((alice, "alice"), (bob, "bob")):
            if page is not None:
                print(f"{name}'s page:", await page.evaluate(PAGE_TEXT))
    finally:
        await browser.close()


def main():
    servers = DemoBehindProxy(DEMO, FAULT_PROXY, TMP)
    try:
        asyncio.run(scenario(servers.bridge_port, servers.proxy_port, servers.proxy))
    finally:
        servers.stop()
    return summary()


if __name__ == "__main__":
    sys.exit(main())

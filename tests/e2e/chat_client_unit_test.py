"""Runs the unit tests of bridge-client.js (chat_client_test.js) in headless Chromium.

Usage: chat_client_unit_test.py BRIDGE_CLIENT_JS TEST_JS
"""
import asyncio
import os
import sys

from chat_cdp import Browser
from e2e_checks import check, summary


async def run(client_js, test_js):
    browser = await Browser.start(os.environ.get("TEST_TMPDIR"))
    try:
        page = await browser.open("about:blank")
        for path in (client_js, test_js):
            with open(path) as f:
                await page.evaluate(f.read())
        report = await page.evaluate("runBridgeClientTests()", deadline_s=60)
        for result in report["results"]:
            check(result["name"], result["ok"], result.get("error", ""))
        check("some tests ran", report["passed"] + report["failed"] > 20, report)
    finally:
        await browser.close()


def main():
    asyncio.run(run(sys.argv[1], sys.argv[2]))
    return summary()


if __name__ == "__main__":
    sys.exit(main())

"""The status page `/` as a person on call sees it: rendered by real headless Chromium, on a desktop and a phone.

Server-side tests check the HTML; only a browser shows that it renders, runs without console errors, loads nothing
from outside (clusters are often offline) and fits a phone's width. The screenshots land in `test-output/`.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest

from exporter.demo.nats_server import NatsServer, free_port
from tests.cdp import CdpPage, launch_chromium
from tests.conftest import ExporterFactory, wait_for

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = Path(__file__).resolve().parents[1] / "test-output"
PHASES = ("dns", "tcp", "connect", "rtt", "pubsub")
PHONE: dict[str, Any] = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
DESKTOP: dict[str, Any] = {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}
MAX_SCREENSHOT_HEIGHT = 4000
INLINE = ("data:", "about:")  # URLs that never reach the network

CARD_TEXT = "document.getElementById({id!r})?.innerText ?? null"


def words(text: str) -> set[str]:
    """The page text as whole words, so `up` is not found inside `setup`."""
    return set(re.findall(r"[\w.]+", text))


async def load(page: CdpPage, url: str) -> None:
    mark = len(page.events)
    reply = await page.send("Page.navigate", url=url)
    assert "errorText" not in reply, f"navigating to {url}: {reply['errorText']}"
    await page.wait_event("Page.loadEventFired", after=mark)


async def screenshot(page: CdpPage, metrics: dict[str, Any], path: Path) -> None:
    """The whole page at this viewport width: the viewport is stretched to the content's height first."""
    await page.send("Emulation.setDeviceMetricsOverride", **metrics)
    height = min(int(await page.evaluate("document.documentElement.scrollHeight")), MAX_SCREENSHOT_HEIGHT)
    await page.send("Emulation.setDeviceMetricsOverride", **{**metrics, "height": max(height, metrics["height"])})
    reply = await page.send("Page.captureScreenshot", format="png")
    write_png(path, reply["data"])


def write_png(path: Path, data: str) -> None:
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(base64.b64decode(data))


def problems(page: CdpPage) -> list[str]:
    """Everything the browser reported as wrong: console errors, uncaught exceptions, error log entries."""
    found = [
        f"console.{event['type']}: {[arg.get('value', arg.get('description')) for arg in event['args']]}"
        for event in page.named("Runtime.consoleAPICalled")
        if event["type"] in ("error", "assert")
    ]
    found += [f"exception: {event['exceptionDetails']}" for event in page.named("Runtime.exceptionThrown")]
    found += [
        f"log {entry['source']}: {entry['text']} ({entry.get('url', '')})"
        for entry in (event["entry"] for event in page.named("Log.entryAdded"))
        if entry["level"] == "error"
    ]
    return found


def chromium_binary() -> str:
    """The browser; missing means the set-up was skipped, which must fail the test (not skip it, nor error out)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: `make test` installs the Debian package `chromium`")
    return str(CHROMIUM)


async def test_status_page_renders_cleanly_in_chromium_on_desktop_and_phone(
    nats_server: NatsServer, start_exporter: ExporterFactory, tmp_path: Path
) -> None:
    chromium = chromium_binary()
    running = await start_exporter(
        "--nats-url",
        f"healthy={nats_server.url}",
        "--nats-url",
        f"broken=nats://127.0.0.1:{free_port()}",
        "--probe.interval",
        "1s",
    )
    await wait_for(lambda: running.exporter.board.ready, message="both targets probed once")

    async with launch_chromium(chromium, user_data_dir=tmp_path / "profile") as browser, browser.page() as page:
        for domain in ("Runtime", "Log", "Network", "Page"):
            await page.send(f"{domain}.enable")
        await page.send("Emulation.setDeviceMetricsOverride", **DESKTOP)
        await load(page, running.base_url + "/")

        # Read the page once, at once: it reloads itself every few seconds.
        body, cards, healthy, broken = await page.evaluate(
            "[document.body.innerText, document.querySelectorAll('.card[id^=\"target-\"]').length,"
            f" {CARD_TEXT.format(id='target-healthy')}, {CARD_TEXT.format(id='target-broken')}]"
        )
        assert cards == 2, body
        assert healthy is not None, f"no card for target `healthy`:\n{body}"
        assert broken is not None, f"no card for target `broken`:\n{body}"
        assert {"healthy", "up", *PHASES} <= words(healthy), healthy
        assert {"broken", "down", "connection_refused", "dns", "tcp"} <= words(broken), broken
        assert "connection_refused" in body
        # Each card's last hour as an inline SVG: up slots green, down slots red, a line per phase reached.
        timeline = await page.evaluate(
            "Object.fromEntries(['healthy', 'broken'].map(name => {"
            " const svg = document.querySelector(`#target-${name} svg.timeline`);"
            " return [name, svg && {fills: [...svg.querySelectorAll('rect')].map(r => r.getAttribute('fill')),"
            " lines: svg.querySelectorAll('polyline').length, width: svg.getBoundingClientRect().width}];"
            "}))"
        )
        assert timeline["healthy"] is not None, body
        assert timeline["broken"] is not None, body
        assert set(timeline["healthy"]["fills"]) == {"#2e9e55"}, timeline
        assert set(timeline["broken"]["fills"]) == {"#d64545"}, timeline
        assert timeline["healthy"]["lines"] == len(PHASES), timeline  # every phase reached has its line
        assert timeline["broken"]["lines"] == 1, timeline  # only dns: the connection was refused
        assert timeline["healthy"]["width"] > 100, timeline

        await page.send("Emulation.setDeviceMetricsOverride", **PHONE)
        scroll_width = await page.evaluate("document.documentElement.scrollWidth")
        sticking_out = await widest_elements(page)
        # Screenshots before the layout verdict, so a failure leaves the picture of it behind.
        await screenshot(page, PHONE, OUTPUT / "status-page.png")
        await screenshot(page, DESKTOP, OUTPUT / "status-page-desktop.png")
        assert scroll_width <= PHONE["width"], (
            f"the page scrolls sideways on a {PHONE['width']} px phone: {scroll_width} px wide; "
            f"elements sticking out: {sticking_out}"
        )

        reported = problems(page)
        assert not reported, reported
        requested = [event["request"]["url"] for event in page.named("Network.requestWillBeSent")]
        assert requested, "Chromium reported no request at all: is the Network domain enabled?"
        external = [url for url in requested if not url.startswith((running.base_url + "/", *INLINE))]
        assert not external, f"the page loads assets from elsewhere (it must work offline): {external}"


async def widest_elements(page: CdpPage) -> list[str]:
    """For a failure message: the elements that stick out on the right, so the fix is obvious."""
    value = await page.evaluate(
        "[...document.querySelectorAll('body *')]"
        ".filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth)"
        ".slice(0, 5).map(e => `${e.tagName.toLowerCase()}.${e.className}: ${Math.round("
        "e.getBoundingClientRect().right)} px: ${e.innerText.slice(0, 60)}`)"
    )
    return [str(item) for item in value]

"""The widget with a live agent on the other end, in real Chromium: links in agent messages,
and axe-core on the demo page with the widget open."""

from __future__ import annotations

import os
import stat
import struct
import zlib
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect

from core.contract import HandoffRequest
from handoff.labels import customer_label
from handoff.work.desk import HandoffDesk
from tests.browser_support import serious_axe_violations
from tests.gateway_helpers import (
    AGENT_TOKEN,
    TEST_ATTACHMENTS,
    Gateway,
    eventually,
    transcript,
    webchat_id,
)

AUTH = {"Authorization": f"Bearer {AGENT_TOKEN}"}


@pytest.fixture
def context_options() -> dict[str, Any]:
    return {"locale": "de-DE", "viewport": {"width": 1024, "height": 760}}


async def _open_chat(page: Page, url: str) -> str:
    await page.goto(url)
    await page.get_by_role("button", name="Chat öffnen").click()
    await expect(page.get_by_role("textbox", name="Deine Nachricht …")).to_be_focused()
    session_id: str = await page.evaluate("localStorage.getItem('shopdesk.session')")
    return webchat_id(session_id)


def _desk(gateway: Gateway) -> HandoffDesk:
    assert gateway.parts is not None, "the gateway runs in this process"
    return gateway.parts.desk


async def _agent(gateway: Gateway, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    async with aiohttp.ClientSession(headers=AUTH) as session:
        async with session.request(method, gateway.url + path, json=body) as response:
            assert response.status == 200, await response.text()
            result: dict[str, Any] = await response.json()
            return result


async def _with_agent(gateway: Gateway, cid: str) -> None:
    await _desk(gateway).request_handoff(cid, "webchat", HandoffRequest(reason="customer_request"))
    await _agent(gateway, "POST", f"/api/handoff/{cid}/claim")


async def test_links_in_agent_messages_are_links_and_the_widget_passes_axe(page: Page, gateway: Gateway) -> None:
    cid = await _open_chat(page, gateway.url + "/")
    await expect(page.locator(".sdw-status")).to_have_text("")
    await _with_agent(gateway, cid)
    log = page.get_by_role("log")
    await _agent(gateway, "POST", f"/api/handoff/{cid}/messages", {
        "text": "Deine Sendung: https://www.dhl.de/de/privatkunden.html?piececode=00340434161094042557. "
                "Nicht klicken: javascript:alert(1) <a href=x>x</a>",
    })
    bubble = log.locator(".sdw-agent").last
    await expect(bubble).to_contain_text("Deine Sendung")
    link = bubble.get_by_role("link")
    await expect(link).to_have_count(1)
    await expect(link).to_have_attribute("href", "https://www.dhl.de/de/privatkunden.html?piececode=00340434161094042557")
    await expect(link).to_have_attribute("rel", "noopener noreferrer")
    await expect(bubble).to_contain_text("javascript:alert(1) <a href=x>x</a>")
    await page.screenshot(path="widget.png")
    assert await serious_axe_violations(page) == []


def _png() -> bytes:
    """A real 2×2 PNG (browsers must be able to draw it)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


async def test_typing_both_ways_and_attachments_between_widget_and_console(
    browser: Browser, page: Page, gateway: Gateway, database_url: str,
) -> None:
    cid = await _open_chat(page, gateway.url + "/")
    await expect(page.locator(".sdw-status")).to_have_text("")
    await _desk(gateway).request_handoff(cid, "webchat", HandoffRequest(reason="customer_request"))
    context = await browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 800})
    console = await context.new_page()
    errors: list[str] = []
    console.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        await console.goto(gateway.url + "/agent")
        await console.get_by_label("Agenten-Token").fill(AGENT_TOKEN)
        await console.get_by_role("button", name="Anmelden").click()
        await console.locator(f'tr[data-conversation="{cid}"]').get_by_role("button", name="Annehmen").click()
        await expect(console.locator("#conv-state")).to_have_text("bei Mitarbeiter · anna")

        # The customer types: the agent sees it; the agent types: the customer sees "anna schreibt …".
        await page.get_by_role("textbox", name="Deine Nachricht …").press_sequentially("Hallo, ich")
        await expect(console.locator("#customer-typing")).to_have_text(f"Kunde {customer_label(cid)} schreibt …")
        await console.locator("#reply").press_sequentially("Moment, ich schaue nach")
        await expect(page.locator(".sdw-typing")).to_have_text("anna schreibt …")

        # The agent sends a picture: the widget shows it.
        await console.locator("#attach-file").set_input_files(
            files=[{"name": "lieferschein.png", "mimeType": "image/png", "buffer": _png()}])
        picture = page.get_by_role("log").locator(".sdw-agent img")
        await expect(picture).to_have_attribute("alt", "lieferschein.png")
        await eventually(lambda: picture.evaluate("img => img.naturalWidth"), lambda width: width == 2, timeout=10)
        await expect(page.locator(".sdw-agent").last).to_contain_text("Moment, ich schaue nach")

        # The customer sends a photo: it lands in the transcript and in the console.
        chooser = page.locator(".sdw-form input[type=file]")
        await chooser.set_input_files(files=[{"name": "kaputt.png", "mimeType": "image/png", "buffer": _png()}])
        await expect(page.locator(".sdw-customer img")).to_have_count(1)
        await expect(page.locator(".sdw-pending")).to_have_count(0)
        shown = console.locator("#transcript .line.customer img")
        await expect(shown).to_have_count(1)
        await eventually(lambda: shown.evaluate("img => img.naturalWidth"), lambda width: width == 2, timeout=10)
        rows = await eventually(lambda: transcript(database_url, cid),
                                lambda r: any(s == "customer" and "/media/" in t for s, t in r))
        url = next(t for s, t in rows if s == "customer" and "/media/" in t).split(" ", 1)[1]
        token = url.rsplit("/", 1)[1]
        assert stat.S_IMODE(os.stat(TEST_ATTACHMENTS / token).st_mode) == 0o600

        # A file that is not a picture is refused with a clear note.
        await chooser.set_input_files(files=[{"name": "virus.png", "mimeType": "image/png", "buffer": b"MZ\x90\x00"}])
        await expect(page.locator(".sdw-note").last).to_have_text(
            "Das Foto wurde nicht gesendet: Bitte ein Bild (JPEG, PNG, GIF oder WebP) wählen.")
        assert await serious_axe_violations(console) == []
    finally:
        await context.close()
    assert errors == []

"""The chat widget on the demo page, in real Chromium (Debian's, never a downloaded one)."""

from __future__ import annotations

import re

import stack
from playwright.async_api import Browser, Page, expect

from tests.gateway_helpers import (
    Gateway,
    eventually,
    feedback,
    running_gateway,
    transcript,
    webchat_id,
)


async def _open_chat(page: Page, url: str) -> None:
    await page.goto(url)
    await expect(page.get_by_role("heading", name="Alpenkiste")).to_be_visible()
    await page.get_by_role("button", name="Chat öffnen").click()
    await expect(page.get_by_role("textbox", name="Deine Nachricht …")).to_be_focused()


async def _ask(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Deine Nachricht …")
    await box.fill(text)
    await box.press("Enter")


async def _session_id(page: Page) -> str:
    return await page.evaluate("localStorage.getItem('shopdesk.session')")


async def test_ask_reload_see_history_then_rate_with_stars(
    page: Page, gateway: Gateway, database_url: str, dialogs: list[str],
) -> None:
    await _open_chat(page, gateway.url + "/")
    session_id = await _session_id(page)
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,64}", session_id)
    # The input takes no more than the gateway does (MAX_MESSAGE_CHARS, sent with the history).
    await expect(page.locator("#sdw-input")).to_have_attribute("maxlength", "4096")

    log = page.get_by_role("log")
    await _ask(page, "Was kostet der Versand nach Österreich?")
    await expect(log.locator(".sdw-customer")).to_have_text(["Du: Was kostet der Versand nach Österreich?"])
    answer = log.locator(".sdw-bot").first
    await expect(answer).to_contain_text("Versand", timeout=30_000)
    answer_text = (await answer.text_content() or "").removeprefix("Assistent: ")

    await page.reload()
    await expect(page.get_by_role("dialog", name="Kundenservice")).to_be_visible()  # stays open after a reload
    await expect(log.locator(".sdw-customer").first).to_have_text("Du: Was kostet der Versand nach Österreich?")
    await expect(log.locator(".sdw-bot").first).to_have_text("Assistent: " + answer_text)
    assert await _session_id(page) == session_id

    await _ask(page, "tschüss")
    stars = log.get_by_role("group", name="Bewertung").last
    await expect(stars.get_by_role("button")).to_have_count(5, timeout=30_000)
    await stars.get_by_role("button", name="4 von 5 Sternen").click()
    await expect(log.locator(".sdw-customer").last).to_have_text("Du: ★★★★")
    # The assistant then offers an optional comment; the rating is stored when that step is done.
    await expect(log.locator(".sdw-bot")).to_have_count(3, timeout=30_000)
    await _ask(page, "Sehr schnelle Antwort, danke")
    rows = await eventually(lambda: feedback(database_url, webchat_id(session_id)), bool, timeout=30)
    assert [rating for rating, _ in rows] == [4]
    assert dialogs == []


async def test_markup_in_messages_is_shown_as_text(
    page: Page, gateway: Gateway, database_url: str, dialogs: list[str],
) -> None:
    await _open_chat(page, gateway.url + "/")
    attack = "<img src=x onerror=alert(1)>"
    await _ask(page, attack)
    log = page.get_by_role("log")
    await expect(log.locator(".sdw-customer")).to_have_text(["Du: " + attack])
    await expect(log.locator(".sdw-bot").first).to_be_visible(timeout=30_000)
    session_id = await _session_id(page)
    await eventually(lambda: transcript(database_url, webchat_id(session_id)), lambda rows: ("customer", attack) in rows)

    await page.reload()  # the history path renders it again
    await expect(log.locator(".sdw-customer").first).to_have_text("Du: " + attack)
    assert await page.locator("img").count() == 0
    assert await page.evaluate("document.querySelectorAll('[onerror]').length") == 0
    assert dialogs == []


async def test_escape_closes_the_panel_and_gives_focus_back_to_the_chat_button(page: Page, gateway: Gateway) -> None:
    await _open_chat(page, gateway.url + "/")
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("dialog", name="Kundenservice")).to_be_hidden()
    launcher = page.get_by_role("button", name="Chat öffnen")
    await expect(launcher).to_be_focused()
    await expect(launcher).to_have_attribute("aria-expanded", "false")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("textbox", name="Deine Nachricht …")).to_be_focused()
    await expect(page.get_by_role("log")).to_have_attribute("aria-live", "polite")


async def test_on_a_phone_the_panel_fills_the_screen(browser: Browser, gateway: Gateway) -> None:
    context = await browser.new_context(locale="de-DE", viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    try:
        page = await context.new_page()
        await _open_chat(page, gateway.url + "/")
        box = await page.get_by_role("dialog", name="Kundenservice").bounding_box()
        assert box is not None and (box["x"], box["width"], box["height"]) == (0, 375, 740)
        send = await page.get_by_role("button", name="Senden").bounding_box()
        assert send is not None and send["height"] >= 44  # a thumb-sized target
    finally:
        await context.close()


async def test_a_message_typed_while_the_gateway_is_gone_is_sent_when_it_is_back(
    page: Page, gateway: Gateway, database_url: str,
) -> None:
    port = stack.free_port()
    async with running_gateway(gateway.settings, port=port) as first:
        await _open_chat(page, first.url + "/")
        await expect(page.locator(".sdw-status")).to_have_text("")  # connected
    await expect(page.get_by_role("status")).to_have_text("Keine Verbindung – neuer Versuch gleich.")
    await _ask(page, "Welche Zahlungsarten gibt es?")
    log = page.get_by_role("log")
    await expect(log.locator(".sdw-customer.sdw-pending")).to_have_count(1)
    async with running_gateway(gateway.settings, port=port):
        await expect(log.locator(".sdw-bot").first).to_be_visible(timeout=40_000)
        await expect(log.locator(".sdw-pending")).to_have_count(0)
        await expect(log.locator(".sdw-customer")).to_have_text(["Du: Welche Zahlungsarten gibt es?"])
    rows = await transcript(database_url, webchat_id(await _session_id(page)))
    assert rows.count(("customer", "Welche Zahlungsarten gibt es?")) == 1

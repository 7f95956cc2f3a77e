"""The customer's own controls in the widget, in real Chromium: the privacy notice before the first
message, and "Chat löschen" (with a confirmation) erasing the session's conversation."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.gateway_helpers import Gateway, eventually, transcript, webchat_id
from tests.privacy_support import PRIVACY_URL


async def test_notice_before_the_first_message_and_delete_this_chat_erases_it(
    page: Page, privacy_gateway: Gateway, database_url: str,
) -> None:
    await page.goto(privacy_gateway.url + "/")
    await page.get_by_role("button", name="Chat öffnen").click()
    notice = page.locator(".sdw-privacy")
    await expect(notice).to_contain_text("Wir speichern diesen Chat")
    await expect(notice.get_by_role("link", name="Datenschutz")).to_have_attribute("href", PRIVACY_URL)

    box = page.get_by_role("textbox", name="Deine Nachricht …")
    await box.fill("Welche Zahlungsarten gibt es bei euch?")
    await box.press("Enter")
    log = page.get_by_role("log")
    await expect(log.locator(".sdw-bot").first).to_be_visible(timeout=30_000)
    await expect(notice).to_be_hidden()
    session_id = await page.evaluate("localStorage.getItem('shopdesk.session')")
    conversation = webchat_id(session_id)
    await eventually(lambda: transcript(database_url, conversation), lambda rows: len(rows) >= 2)

    await page.get_by_role("button", name="Chat löschen").click()
    confirm = page.get_by_role("alertdialog", name="Chat löschen")
    await expect(confirm).to_contain_text("endgültig löschen?")
    await confirm.get_by_role("button", name="Abbrechen").click()
    await expect(confirm).to_be_hidden()
    assert await transcript(database_url, conversation) != []

    await page.get_by_role("button", name="Chat löschen").click()
    await confirm.get_by_role("button", name="Ja, löschen").click()
    await expect(page.get_by_text("Der Chat wurde gelöscht.")).to_be_visible()
    await expect(log.locator(".sdw-msg")).to_have_count(0)
    assert await transcript(database_url, conversation) == []
    assert await page.evaluate("localStorage.getItem('shopdesk.session')") != session_id

    await page.reload()
    await expect(page.locator(".sdw-status")).to_have_text("")  # connected to the new, empty session
    await expect(log.locator(".sdw-msg")).to_have_count(0)
    await expect(page.locator(".sdw-privacy")).to_be_visible()

"""The agent console in real Chromium (Debian's): sign in, live queue, claim, reply, close."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

from tests.handoff_support import desk_app, new_id


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context()
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    await context.close()
    assert errors == []


async def sign_in(page: Page, url: str, token: str) -> None:
    await page.goto(url)
    await page.get_by_label("Agent token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#status")).to_have_text("signed in as anna-desk")


async def test_agent_signs_in_claims_replies_and_closes_in_the_console(redis_url, database_url, page):
    async with desk_app(redis_url, database_url) as h:
        url = str(h.client.make_url("/agent"))
        await page.goto(url)
        await page.get_by_label("Agent token").fill("wrong-token")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("#sign-in-error")).to_have_text("That token is not valid.")
        await sign_in(page, url, h.agents["anna-desk"])
        await expect(page.locator("#queue-empty")).to_be_visible()

        # A customer arrives while the console is open: the row appears without a reload.
        cid = new_id()
        await h.customer(cid, "Mein Paket ist kaputt angekommen.")
        hostile = '<img src=x onerror="document.title=\'pwned\'">Lampe kaputt'
        await h.handoff(cid, reason="complaint", priority=1, summary=hostile, language="de", order_number="10042")
        row = page.locator(f'tr[data-conversation="{cid}"]')
        await expect(row).to_be_visible()
        await expect(row).to_contain_text("complaint")
        await expect(row).to_contain_text("webchat")
        await expect(row.locator("td").nth(6)).to_have_text(hostile)  # customer text as text, never markup
        assert await page.title() != "pwned"

        await row.get_by_role("button", name="Claim").click()
        await expect(page.locator("#conv-id")).to_have_text(cid)
        await expect(page.locator("#conv-state")).to_have_text("agent · anna-desk")
        await expect(page.locator("#card")).to_contain_text("10042")
        await expect(page.locator("#transcript")).to_contain_text("Mein Paket ist kaputt angekommen.")
        await expect(page.locator(f'tr[data-conversation="{cid}"]')).to_have_count(0)

        # A canned opening in the customer's language, then sent.
        await page.get_by_role("button", name="DE: Begrüßung").click()
        await expect(page.locator("#reply")).to_have_value(
            "Hallo, hier ist anna-desk vom Kundenservice. Ich habe deinen Verlauf gelesen und kümmere mich jetzt darum.")
        await page.locator("#reply").fill("Hallo, hier ist Anna. Ich schicke Ersatz.")
        await page.get_by_role("button", name="Send").click()
        await expect(page.locator("#reply")).to_have_value("")
        await h.delivery.wait_for(cid, "Hallo, hier ist Anna. Ich schicke Ersatz.")
        _, sent = h.delivery.sent[-1]
        assert (sent.sender, sent.agent_id) == ("agent", "anna-desk")
        await expect(page.locator("#transcript")).to_contain_text("Hallo, hier ist Anna. Ich schicke Ersatz.")

        # The customer's answer shows up live.
        await h.customer(cid, "Danke <b>sehr</b>!")
        await expect(page.locator("#transcript li").last).to_contain_text("Danke <b>sehr</b>!")

        await page.locator("#note").fill("Ersatz für 10042 verschickt")
        await page.get_by_role("button", name="Close").click()
        await expect(page.locator("#conv-state")).to_have_text("bot · anna-desk")
        for _ in range(50):  # the console hears "closed" before the hand-back call has finished
            if h.handback.calls:
                break
            await asyncio.sleep(0.1)
        assert h.handback.calls == [(cid, "anna-desk")]


async def test_console_shows_who_has_a_conversation_on_a_lost_claim(redis_url, database_url, page):
    async with desk_app(redis_url, database_url) as h:
        cid = new_id()
        await h.handoff(cid, reason="customer_request", summary="Frage zur Rechnung")
        await sign_in(page, str(h.client.make_url("/agent")), h.agents["anna-desk"])
        row = page.locator(f'tr[data-conversation="{cid}"]')
        await expect(row).to_be_visible()
        # Ben claims over the API first; Anna's claim (as her click sends it) loses with a 409.
        await h.claim(cid, "ben-desk")
        await page.evaluate(f"""() => claimConversation({cid!r})""")
        await expect(page.locator("#claim-error")).to_have_text("Already taken: ben-desk has this conversation.")


async def test_console_reloads_the_open_conversation_after_a_reconnect(redis_url, database_url, page):
    async with desk_app(redis_url, database_url) as h:
        cid = new_id()
        await h.handoff(cid)
        await sign_in(page, str(h.client.make_url("/agent")), h.agents["anna-desk"])
        await page.locator(f'tr[data-conversation="{cid}"]').get_by_role("button", name="Claim").click()
        await expect(page.locator("#conv-id")).to_have_text(cid)
        # The socket drops; meanwhile the customer writes (recorded in the transcript).
        await page.evaluate("() => state.ws.close()")
        await h.customer(cid, "Hallo? Noch da?")
        await expect(page.locator("#status")).to_have_text("signed in as anna-desk")
        await expect(page.locator("#transcript")).to_contain_text("Hallo? Noch da?")
        # A reload keeps the sign-in (sessionStorage) and the open conversation.
        await page.reload()
        await expect(page.locator("#status")).to_have_text("signed in as anna-desk")
        await expect(page.locator("#conv-id")).to_have_text(cid)

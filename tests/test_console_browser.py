"""The agent console in real Chromium (Debian's): sign in, live queue, claim, reply, close,
languages, links, canned replies, keyboard-only use and axe-core."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser_support import serious_axe_violations, watched_page
from tests.handoff_support import desk_app, new_id


@pytest.fixture
def context_options() -> dict[str, Any]:
    return {"locale": "en-US"}


@pytest.fixture
async def page_de(browser: Browser) -> AsyncIterator[Page]:
    async with watched_page(
        browser, locale="de-DE", timezone_id="America/Sao_Paulo", viewport={"width": 1366, "height": 800},
    ) as page:
        yield page


async def sign_in(page: Page, url: str, token: str, agent: str = "anna-desk", de: bool = False) -> None:
    await page.goto(url)
    await page.get_by_label("Agenten-Token" if de else "Agent token").fill(token)
    await page.get_by_role("button", name="Anmelden" if de else "Sign in").click()
    await expect(page.locator("#status")).to_have_text(f"angemeldet als {agent}" if de else f"signed in as {agent}")


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
        await expect(row.locator("td").nth(5)).to_have_text(hostile)  # customer text as text, never markup
        assert await page.title() != "pwned"

        await row.get_by_role("button", name="Claim").click()
        # the claim's answer, shown: only then does the desk list it as hers
        await expect(page.locator("#conv-state")).to_have_text("with agent · anna-desk")
        label = (await h.queue())["mine"][0]["customer_label"]
        await expect(page.locator("#conv-id")).to_have_text(f"Customer {label}")
        await expect(page.locator("#card")).to_contain_text("10042")
        await expect(page.locator("#transcript")).to_contain_text("Mein Paket ist kaputt angekommen.")
        await expect(page.locator(f'tr[data-conversation="{cid}"]')).to_have_count(0)
        # The session id (the web chat customer's credential) is nowhere on screen.
        assert cid.removeprefix("web-") not in await page.locator("body").inner_text()

        # A canned opening in the customer's language, found by typing "/" and a word.
        await page.locator("#reply").press_sequentially("/begr")
        await expect(page.locator("#slash").get_by_role("option")).to_have_count(1)
        await expect(page.locator("#slash-0")).to_be_visible()  # the replies have loaded (not "none found")
        await page.locator("#reply").press("Enter")
        await expect(page.locator("#reply")).to_have_value(
            "Hallo, hier ist anna-desk vom Kundenservice. "
            "Ich habe deinen Verlauf gelesen und kümmere mich jetzt darum.")
        await page.locator("#reply").fill("Hallo, hier ist Anna. Ich schicke Ersatz.")
        await page.get_by_role("button", name="Send").click()
        await expect(page.locator("#reply")).to_have_value("")
        await h.delivery.wait_for(cid, "Hallo, hier ist Anna. Ich schicke Ersatz.")
        _, sent = h.delivery.sent[-1]
        assert (sent.sender, sent.agent_id) == ("agent", "anna-desk")
        await expect(page.locator("#transcript")).to_contain_text("Hallo, hier ist Anna. Ich schicke Ersatz.")

        # The customer's answer shows up live, in the transcript's live region.
        await h.customer(cid, "Danke <b>sehr</b>!")
        await expect(page.locator("#transcript .line").last).to_contain_text("Danke <b>sehr</b>!")
        await expect(page.get_by_role("log")).to_have_attribute("aria-live", "polite")

        await page.locator("#note").fill("Ersatz für 10042 verschickt")
        await page.get_by_role("button", name="Close").click()
        await expect(page.locator("#conv-state")).to_have_text("assistant · anna-desk")
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
        await expect(page.locator("#conv-state")).to_have_text("with agent · anna-desk")
        label = await page.locator("#conv-id").text_content()
        # The socket drops; meanwhile the customer writes (recorded in the transcript).
        await page.evaluate("() => state.ws.close()")
        await h.customer(cid, "Hallo? Noch da?")
        await expect(page.locator("#status")).to_have_text("signed in as anna-desk")
        await expect(page.locator("#transcript")).to_contain_text("Hallo? Noch da?")
        # A reload keeps the sign-in (sessionStorage) and the open conversation.
        await page.reload()
        await expect(page.locator("#status")).to_have_text("signed in as anna-desk")
        await expect(page.locator("#conv-id")).to_have_text(label or "")


async def test_console_speaks_german_by_default_and_remembers_the_agents_choice(redis_url, database_url, page_de):
    page = page_de
    async with desk_app(redis_url, database_url, business_hours="Mon-Sun 00:00-24:00 Pacific/Auckland") as h:
        events: list[object] = []
        await page.expose_function("record", lambda kind, detail: events.append((kind, detail)))
        await page.add_init_script("""
            for (const kind of ["shopdesk:signed-in", "shopdesk:lang", "shopdesk:conversation-opened"])
            document.addEventListener(kind, (e) => window.record(kind, e.detail));""")
        await sign_in(page, str(h.client.make_url("/agent")), h.agents["anna-desk"], de=True)
        assert await page.evaluate("document.documentElement.lang") == "de"
        await expect(page.get_by_role("heading", name="Warteschlange 0")).to_be_visible()
        await expect(page.locator("#queue-empty")).to_have_text("Niemand wartet.")
        # Times in the shop's zone (BUSINESS_HOURS), not the browser's (São Paulo), in the agent's locale.
        assert await page.evaluate("() => when('2026-01-15T12:00:00Z')") == "01:00"
        assert await page.evaluate("() => when('2026-01-15T12:00:00Z', true)") == "16.01.2026, 01:00"

        cid = new_id()
        await h.customer(cid, "Wo ist meine Bestellung 10042? https://www.dhl.de/track?id=1 javascript:alert(1)")
        await h.handoff(cid, reason="order_not_found", summary="Bestellung 10042 nicht gefunden", order_number="10042")
        row = page.locator(f'tr[data-conversation="{cid}"]')
        await expect(row).to_contain_text("Bestellung nicht gefunden")
        await row.get_by_role("button", name="Annehmen").click()
        await expect(page.locator("#conv-state")).to_have_text("bei Mitarbeiter · anna-desk")
        # The link is a link (http/https only, no referrer, no opener); the rest stays text.
        link = page.locator("#transcript").get_by_role("link", name="https://www.dhl.de/track?id=1")
        await expect(link).to_have_attribute("href", "https://www.dhl.de/track?id=1")
        await expect(link).to_have_attribute("rel", "noopener noreferrer")
        await expect(page.locator("#transcript a")).to_have_count(1)
        await expect(page.locator("#transcript")).to_contain_text("javascript:alert(1)")
        await page.screenshot(path="console-de.png", full_page=False)
        assert await serious_axe_violations(page) == []

        await page.get_by_label("Sprache").select_option("en")
        await expect(page.locator("#status")).to_have_text("signed in as anna-desk")
        await expect(page.get_by_role("button", name="Close")).to_be_visible()
        await page.reload()
        await expect(page.locator("#status")).to_have_text("signed in as anna-desk")
        assert await page.evaluate("document.documentElement.lang") == "en"
        kinds = [kind for kind, _ in events]
        assert "shopdesk:lang" in kinds and ("shopdesk:lang", {"lang": "en"}) in events
        assert ("shopdesk:conversation-opened", {"conversation_id": cid}) in events
        signed_in = [detail for kind, detail in events if kind == "shopdesk:signed-in"]
        assert signed_in[0] == {"token": h.agents["anna-desk"], "agent": "anna-desk", "role": "agent", "lang": "de"}


async def test_queue_claim_reply_and_close_with_the_keyboard_only(redis_url, database_url, page):
    async with desk_app(redis_url, database_url) as h:
        cid = new_id()
        await h.customer(cid, "Ich brauche Hilfe")
        await h.handoff(cid, summary="Hilfe")
        await sign_in(page, str(h.client.make_url("/agent")), h.agents["anna-desk"])
        await expect(page.locator(f'tr[data-conversation="{cid}"]')).to_be_visible()

        async def tab_to(selector: str) -> None:
            for _ in range(40):
                await page.keyboard.press("Tab")
                if await page.evaluate(f"() => document.activeElement.matches({selector!r})"):
                    return
            raise AssertionError(f"Tab never reached {selector}")

        await page.locator("body").focus()
        await tab_to("button.claim")
        await page.keyboard.press("Enter")
        await expect(page.locator("#reply")).to_be_focused()
        await page.keyboard.type("Ich bin für dich da.")
        await page.keyboard.press("Enter")
        await h.delivery.wait_for(cid, "Ich bin für dich da.")
        await tab_to("#note")
        await page.keyboard.type("erledigt")
        await page.keyboard.press("Tab")
        await expect(page.locator("#close")).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(page.locator("#conv-state")).to_have_text("assistant · anna-desk")


async def test_canned_replies_file_edits_reach_the_console_without_a_restart(redis_url, database_url, page, tmp_path):
    replies = tmp_path / "replies.yml"
    first = "- key: gruss\n  title: {de: Gruß, en: Hello}\n  text: {de: Servus!, en: Hello!}\n"
    replies.write_text(first, encoding="utf-8")
    async with desk_app(redis_url, database_url, replies_file=str(replies)) as h:
        cid = new_id()
        await h.handoff(cid, language="en")
        await sign_in(page, str(h.client.make_url("/agent")), h.agents["anna-desk"])
        await page.locator(f'tr[data-conversation="{cid}"]').get_by_role("button", name="Claim").click()
        await expect(page.locator("#reply")).to_be_focused()
        await page.locator("#reply").press_sequentially("/")
        await expect(page.locator("#slash").get_by_role("option")).to_have_text(["/gruss Hello Hello!"])
        await page.locator("#reply").press("Escape")
        await page.locator("#reply").fill("")
        second = "- key: danke\n  title: {de: Danke, en: Thanks}\n  text: {de: Danke dir!, en: Thank you!}\n"
        replies.write_text(first + second, encoding="utf-8")
        await page.locator("#reply").press_sequentially("/than")
        await expect(page.locator("#slash").get_by_role("option")).to_have_text(["/danke Thanks Thank you!"])
        await page.keyboard.press("Enter")
        await expect(page.locator("#reply")).to_have_value("Thank you!")

"""Two agents in two Chromium consoles: who else is viewing, internal notes, transfer to a named
agent and back to the queue; the customer column with earlier conversations and ratings."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from db.engine import create_engine, session_factory
from db.models import Complaint, ConversationNote, Feedback
from handoff.labels import customer_label
from tests.browser_support import serious_axe_violations
from tests.handoff_support import AGENTS, agent_tokens, desk_app, new_id

# Ben is a supervisor: he reads a conversation Anna holds (an agent reads only queued ones, their own
# and the ones they closed: handoff.web.access).
TEAM_TOKENS = agent_tokens(AGENTS).replace(f"ben-desk:{AGENTS['ben-desk']}", f"ben-desk:{AGENTS['ben-desk']}:supervisor")


async def _page(browser: Browser, errors: list[str]) -> Page:
    context = await browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page


@pytest.fixture
async def two(browser: Browser) -> AsyncIterator[tuple[Page, Page]]:
    errors: list[str] = []
    anna, ben = await _page(browser, errors), await _page(browser, errors)
    yield anna, ben
    await anna.context.close()
    await ben.context.close()
    assert errors == []


async def sign_in(page: Page, url: str, token: str, agent: str) -> None:
    await page.goto(url)
    await page.get_by_label("Agenten-Token").fill(token)
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page.locator("#status")).to_have_text(f"angemeldet als {agent}")


async def test_two_agents_see_each_other_share_notes_and_hand_over(redis_url, database_url, two):
    anna, ben = two
    async with desk_app(redis_url, database_url, agent_tokens=TEAM_TOKENS) as h:
        cid = new_id()
        label = customer_label(cid)
        await h.customer(cid, "Meine Rechnung stimmt nicht.")
        await h.handoff(cid, reason="billing_complaint", priority=2, summary="Rechnung falsch")
        url = str(h.client.make_url("/agent"))
        await sign_in(anna, url, h.agents["anna-desk"], "anna-desk")
        await sign_in(ben, url, h.agents["ben-desk"], "ben-desk")

        # Both look at the waiting conversation: each sees the other.
        row = ben.locator(f'tr[data-conversation="{cid}"]')
        await row.get_by_role("button", name=f"Kunde {label}", exact=True).click()
        await anna.locator(f'tr[data-conversation="{cid}"]').get_by_role("button", name="Annehmen").click()
        await expect(anna.locator("#viewers")).to_have_text("Ebenfalls hier: ben-desk")
        await expect(ben.locator("#viewers")).to_have_text("Ebenfalls hier: anna-desk")

        # An internal note reaches Ben at once, and is never sent to the customer.
        sent_before = len(h.delivery.sent)
        await anna.get_by_label("Neue interne Notiz").fill("Kunde hat doppelt bezahlt, siehe https://shop.example/rechnung/7")
        await anna.get_by_role("button", name="Notiz speichern").click()
        note = ben.locator("#notes li").last
        await expect(note).to_contain_text("Kunde hat doppelt bezahlt")
        await expect(note).to_contain_text("anna-desk")
        await expect(note.get_by_role("link")).to_have_attribute("rel", "noopener noreferrer")
        assert len(h.delivery.sent) == sent_before

        # Anna hands it to Ben with a note: it moves to Ben's conversations and he can reply.
        await anna.get_by_label("Übergeben an").select_option("ben-desk")
        await anna.get_by_label("Notiz für die Kollegin / den Kollegen").fill("Bitte Erstattung prüfen")
        await anna.get_by_role("button", name="Übergeben", exact=True).click()
        await expect(anna.locator("#conv-state")).to_have_text("bei Mitarbeiter · ben-desk")
        await expect(anna.locator("#mine button")).to_have_count(0)
        await expect(anna.locator("#reply")).to_be_disabled()
        await expect(ben.locator("#mine button")).to_contain_text([f"Kunde {label}"])
        await expect(ben.locator("#conv-state")).to_have_text("bei Mitarbeiter · ben-desk")
        await expect(ben.locator("#notes li").last).to_contain_text("Bitte Erstattung prüfen")
        await ben.locator("#reply").fill("Hallo, hier ist Ben, ich prüfe die Erstattung.")
        await ben.locator("#reply").press("Enter")
        await h.delivery.wait_for(cid, "Hallo, hier ist Ben")
        assert (await h.say(cid, "anna-desk", "Noch da?")).status == 403

        # Ben hands it back to the queue with a note; it waits there again.
        await ben.get_by_label("Übergeben an").select_option("")
        await ben.get_by_label("Notiz für die Kollegin / den Kollegen").fill("Braucht die Buchhaltung")
        await ben.get_by_role("button", name="Übergeben", exact=True).click()
        await expect(anna.locator(f'tr[data-conversation="{cid}"]')).to_be_visible()
        await expect(ben.locator("#conv-state")).to_have_text("wartet")
        await expect(anna.locator("#notes li")).to_have_count(3)

        # Ben leaves (signs out): Anna no longer sees him.
        await ben.get_by_role("button", name="Abmelden").click()
        await expect(anna.locator("#viewers")).to_have_text("")
        assert await serious_axe_violations(anna) == []

    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            notes = (await session.scalars(
                select(ConversationNote.agent_id).where(ConversationNote.conversation_id == cid)
                .order_by(ConversationNote.id)
            )).all()
    finally:
        await engine.dispose()
    assert notes == ["anna-desk", "anna-desk", "ben-desk"]


async def test_customer_column_shows_earlier_conversations_and_ratings(redis_url, database_url, two):
    anna, _ben = two
    order = "9" + secrets.token_hex(3)
    earlier, now = new_id("wa-"), new_id()
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            session.add(Complaint(reference="R-" + secrets.token_hex(4), conversation_id=earlier, channel="whatsapp",
                                  category="damaged", order_number=order, description="Glas zerbrochen", status="open"))
            session.add(Feedback(conversation_id=earlier, channel="whatsapp", rating=2, comment="zu langsam",
                                 agent_id="ben-desk"))
    finally:
        await engine.dispose()
    async with desk_app(redis_url, database_url) as h:
        await h.customer(earlier, "Das Glas ist zerbrochen")
        await h.customer(now, "Schon wieder kaputt")
        await h.handoff(now, reason="repeat_complaint", priority=2, order_number=order)
        await sign_in(anna, str(h.client.make_url("/agent")), h.agents["anna-desk"], "anna-desk")
        await anna.locator(f'tr[data-conversation="{now}"]').get_by_role("button", name="Annehmen").click()
        await expect(anna.locator("#customer-title")).to_have_text(f"Kunde {customer_label(now)}")
        await expect(anna.locator("#complaints-panel")).to_have_count(1)
        await expect(anna.locator("#history button")).to_have_count(1)
        await expect(anna.locator("#history button")).to_contain_text(f"Kunde {customer_label(earlier)}")
        await expect(anna.locator("#ratings li")).to_contain_text(["★★☆☆☆ zu langsam"])
        await anna.locator("#history button").click()
        await expect(anna.locator("#transcript")).to_contain_text("Das Glas ist zerbrochen")

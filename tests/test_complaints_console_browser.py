"""The console's complaint panel (handoff/web/static/complaints.js) in real Chromium: a customer's complaints
with their timeline, a state change with a resolution that reaches the customer, German and English."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from actions.complaint_store import NewComplaint, store_complaint
from db.engine import create_engine, session_factory
from tests.handoff_support import desk_app, new_id

HOSTILE = '<img src=x onerror="document.title=\'pwned\'">Krug zerbrochen'

# Until the console loads complaints.js itself (its contract), the test adds the panel and the script.
INJECT = """async ({token, cid}) => {
  if (!document.getElementById('complaints-panel')) {
    const panel = document.createElement('section'); panel.id = 'complaints-panel'; document.body.append(panel);
  }
  if (!document.querySelector('script[src$="complaints.js"]')) {
    await new Promise((ok) => { const s = document.createElement('script'); s.src = '/agent/static/complaints.js';
      s.onload = ok; document.head.append(s); });
  }
  document.documentElement.lang = 'de';
  document.dispatchEvent(new CustomEvent('shopdesk:signed-in', {detail: {token, agent: 'anna-desk', role: 'agent', lang: 'de'}}));
  document.dispatchEvent(new CustomEvent('shopdesk:conversation-opened', {detail: {conversation_id: cid}}));
}"""


async def _sign_in(page: Page, token: str) -> None:
    """The console shows its customer column (with #complaints-panel) once an agent is signed in."""
    await page.get_by_label("Agent token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#status")).to_have_text("signed in as anna-desk")


@pytest.fixture
def context_options() -> dict[str, Any]:
    return {"locale": "en-US"}


async def test_an_agent_resolves_a_complaint_in_the_console_and_the_customer_is_told(redis_url, database_url, page):
    cid = new_id()
    engine = create_engine(database_url)
    try:
        stored = await store_complaint(session_factory(engine), NewComplaint(
            conversation_id=cid, channel="webchat", category="damaged", order_number="AK-100003",
            description=HOSTILE, media_url="https://media.example/krug.jpg", language="de"), needs_human=False)
    finally:
        await engine.dispose()
    async with desk_app(redis_url, database_url) as h:
        await page.goto(str(h.client.make_url("/agent")))
        await _sign_in(page, h.agents["anna-desk"])
        await page.evaluate(INJECT, {"token": h.agents["anna-desk"], "cid": cid})
        card = page.locator(f'article[data-reference="{stored.reference}"]')
        await expect(card).to_contain_text("offen")
        await expect(card.locator(".complaint-description")).to_have_text(HOSTILE)
        await expect(card.locator(".complaint-timeline li")).to_have_count(2)  # filed, photo
        assert await page.title() != "pwned"

        await card.get_by_label("Status").select_option("resolved")
        await card.get_by_role("button", name="Speichern").click()
        await expect(card.locator(".complaint-note")).to_contain_text("braucht es eine Lösung")
        await card.get_by_label("Lösung für den Kunden").fill("Wir schicken einen neuen Krug.")
        await card.get_by_role("button", name="Speichern").click()
        await expect(page.locator(".complaints-message")).to_have_text("Gespeichert – der Kunde wurde informiert.")
        await expect(card).to_contain_text("erledigt")
        await expect(card.get_by_role("button", name="Speichern")).to_be_disabled()
        notice = h.delivery.texts(cid)[-1]
        assert stored.reference in notice and "Wir schicken einen neuen Krug." in notice
        assert (cid, "EXTERNAL_complaint_closed") in h.handback.calls

        await page.evaluate("() => { document.documentElement.lang = 'en';"
                            " document.dispatchEvent(new CustomEvent('shopdesk:lang', {detail: {lang: 'en'}})); }")
        await expect(page.locator("#complaints-panel h2")).to_have_text("Complaints")
        await expect(card).to_contain_text("resolved")
        await expect(card.locator(".complaint-timeline li")).to_have_count(4)  # + state, customer told

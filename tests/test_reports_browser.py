"""The /reports page and the console's alert banner in real Chromium (Debian's): sign in as a
supervisor, charts drawn by Chart.js, a click on an agent's low ratings lists those conversations
and opens a transcript, German and English, readable on a phone."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from db.engine import create_engine, session_factory
from db.models import Complaint, ConversationStart, Feedback, Handoff, Message, RatingRequest, UnknownMessage
from handoff.labels import customer_label
from handoff.reports import keys
from tests.handoff_support import desk_app, new_id
from tests.test_reports import empty_report_tables

SCREENSHOT = Path(__file__).resolve().parent.parent / "reports-screenshot.png"
AGENTS = {"sam-desk": "sam-" + "s" * 32, "rita-desk": "rita-" + "r" * 32}
TOKENS = f"sam-desk:{AGENTS['sam-desk']}:supervisor,rita-desk:{AGENTS['rita-desk']}"
CHARTS = ["chart-csat", "chart-distribution", "chart-containment", "chart-reasons", "chart-times", "chart-queue",
          "chart-complaints"]
HOSTILE = '<img src=x onerror="document.title=\'pwned\'">Die Lampe kam kaputt an'


@pytest.fixture
def context_options() -> dict[str, Any]:
    return {"locale": "de-DE", "viewport": {"width": 1280, "height": 900}}


async def seed(database_url: str) -> tuple[list[str], str]:
    """Two weeks of a small shop; returns rita's two low-rated conversations and a bot-only one."""
    now = dt.datetime.now(dt.UTC)
    low = [new_id(), new_id()]
    happy = new_id()
    engine = create_engine(database_url)
    async with session_factory(engine)() as session, session.begin():
        for i in range(12):
            session.add(ConversationStart(conversation_id=new_id(), channel="webchat" if i % 3 else "whatsapp",
                                          started_at=now - dt.timedelta(days=i), handed_off=i % 4 == 0))
        ratings = [(low[0], 1, "rita-desk"), (low[1], 2, "rita-desk"), (new_id(), 5, "rita-desk"),
                   (happy, 5, None), (new_id(), 4, None), (new_id(), 3, None)]
        for i, (cid, stars, agent) in enumerate(ratings):
            at = now - dt.timedelta(days=i * 2, hours=1)
            session.add(RatingRequest(conversation_id=cid, channel="webchat", agent_id=agent, created_at=at))
            session.add(Feedback(conversation_id=cid, channel="webchat", rating=stars, agent_id=agent,
                                 comment="=SUMME(A1)" if stars == 1 else None, created_at=at))
        session.add(RatingRequest(conversation_id=new_id(), channel="whatsapp", created_at=now))
        for cid in low:
            session.add_all([
                Message(conversation_id=cid, channel="webchat", sender="customer", text=HOSTILE, created_at=now),
                Message(conversation_id=cid, channel="webchat", sender="agent", agent_id="rita-desk",
                        text="Das tut mir leid, ich kümmere mich.", created_at=now),
            ])
        for i, reason in enumerate(["customer_request", "customer_request", "complaint", "not_understood"]):
            queued = now - dt.timedelta(days=i, minutes=30)
            claimed = i < 3  # the last one gave up
            session.add(Handoff(
                conversation_id=new_id(), channel="webchat", reason=reason, priority=0, summary="", queued_at=queued,
                claimed_at=queued + dt.timedelta(seconds=40 + 30 * i) if claimed else None,
                first_response_at=queued + dt.timedelta(seconds=70 + 30 * i) if claimed else None,
                abandoned_at=None if claimed else queued + dt.timedelta(minutes=2),
            ))
        for i, category in enumerate(["damaged", "damaged", "wrong_item", "billing"]):
            session.add(Complaint(reference=f"RK-B-{i}{new_id()[-4:]}", conversation_id=new_id(), channel="webchat",
                                  category=category, description="kaputt", language="de", needs_human=False,
                                  status="open", created_at=now - dt.timedelta(days=i * 4)))
        for text in ("gibt es gutscheine", "gibt es gutscheine", "<b>fett</b> frage"):
            session.add(UnknownMessage(conversation_id=new_id(), language="de", text=text, created_at=now))
    await engine.dispose()
    return low, happy


async def sign_in(page: Page, url: str, token: str) -> None:
    await page.goto(url)
    await page.get_by_label("Supervisor-Token").fill(token)
    await page.get_by_role("button", name="Anmelden").click()


async def test_supervisor_reads_the_reports_and_drills_into_an_agents_low_ratings(
    redis_url: str, database_url: str, page: Page,
) -> None:
    await empty_report_tables(database_url)
    low, happy = await seed(database_url)
    async with desk_app(redis_url, database_url, agents=AGENTS, agent_tokens=TOKENS) as h:
        url = str(h.client.make_url("/reports"))
        await sign_in(page, url, AGENTS["rita-desk"])
        await expect(page.locator("#sign-in-error")).to_have_text("Dieser Token gehört keinem Supervisor.")

        await sign_in(page, url, AGENTS["sam-desk"])
        await expect(page.get_by_role("heading", name="Zufriedenheit pro Woche")).to_be_visible()
        await expect(page.locator('[data-figure="f_conversations"] .value')).to_have_text("12")
        await expect(page.locator('[data-figure="f_csat"] .value')).to_have_text("50 %")
        drawn = await page.evaluate("""(ids) => ids.map((id) => {
            const chart = Chart.getChart(document.getElementById(id));
            return chart !== undefined && chart.data.datasets.length > 0 && chart.canvas.width > 0;
        })""", CHARTS)
        assert drawn == [True] * len(CHARTS)
        distribution = await page.evaluate(
            "() => Chart.getChart(document.getElementById('chart-distribution')).data.datasets[0].data")
        assert distribution == [1, 1, 1, 1, 2]
        await expect(page.locator("#unknown tbody tr").first).to_contain_text("gibt es gutscheine")
        await expect(page.locator("#unknown")).to_contain_text("<b>fett</b> frage")  # as text, not markup

        row = page.locator('#agents tr[data-agent="rita-desk"]')
        await expect(row).to_contain_text("3")
        await row.locator("td.low button").click()
        listed = page.locator("#drill-list tbody tr")
        await expect(listed).to_have_count(2)
        assert sorted(await listed.evaluate_all("(rows) => rows.map((r) => r.dataset.conversation)")) == sorted(low)
        assert happy not in await page.locator("#drill").inner_text()
        await expect(page.locator("#drill-list")).to_contain_text("=SUMME(A1)")

        await page.locator(f'#drill-list tr[data-conversation="{low[0]}"] button').click()
        # Customers appear by their label: a web chat id is the customer's session credential.
        assert low[0] not in await page.locator("#drill").inner_text()
        await expect(page.locator("#conv-id")).to_have_text("Kunde " + customer_label(low[0]))
        await expect(page.locator("#transcript li").first).to_contain_text(HOSTILE)
        await expect(page.locator("#transcript")).to_contain_text("Das tut mir leid, ich kümmere mich.")
        assert await page.title() != "pwned"
        await page.screenshot(path=str(SCREENSHOT), full_page=True)

        await page.locator("#lang").select_option("en")
        await expect(page.get_by_role("heading", name="Satisfaction by week")).to_be_visible()
        assert await page.evaluate("() => document.documentElement.lang") == "en"
        await expect(page.locator('[data-figure="f_csat"] .label')).to_have_text("Satisfied (4–5 ★)")

        # A phone: nothing wider than the screen, the charts still drawn.
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.reload()
        await expect(page.get_by_role("heading", name="Satisfaction by week")).to_be_visible()
        await expect(page.locator('[data-figure="f_conversations"] .value')).to_have_text("12")
        assert await page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        assert await page.evaluate("() => Chart.getChart(document.getElementById('chart-csat')) !== undefined")


async def test_console_banner_shows_supervisors_the_early_warnings(
    redis_url: str, database_url: str, page: Page,
) -> None:
    await empty_report_tables(database_url)
    engine = create_engine(database_url)
    async with session_factory(engine)() as session, session.begin():
        session.add(Feedback(conversation_id=new_id(), channel="webchat", rating=1, agent_id="rita-desk"))
    await engine.dispose()
    async with desk_app(redis_url, database_url, agents=AGENTS, agent_tokens=TOKENS, alert_check_seconds=0.2,
                        alert_language="en") as h:
        await h.redis.delete(keys.ALERTS_ACTIVE, keys.ALERT_LEASE)  # this app checks from now on
        try:
            await page.goto(str(h.client.make_url("/agent")))
            # Until the console (#12) carries them: the banner container and the script.
            await page.evaluate("""() => {
                if (!document.getElementById('alerts-banner')) {
                    const box = document.createElement('div');
                    box.id = 'alerts-banner';
                    box.setAttribute('role', 'status');
                    document.body.prepend(box);
                }
            }""")
            if not await page.evaluate("() => Boolean(window.shopdeskAlerts)"):
                await page.add_script_tag(url="/agent/static/alerts.js")
            signed_in = """([token, role]) => document.dispatchEvent(new CustomEvent('shopdesk:signed-in',
                {detail: {token, agent: 'x', role, lang: 'en'}}))"""
            await page.evaluate(signed_in, [AGENTS["rita-desk"], "agent"])
            await expect(page.locator("#alerts-banner")).to_be_hidden()
            for _ in range(50):
                if await h.redis.hlen(keys.ALERTS_ACTIVE):
                    break
                await asyncio.sleep(0.1)
            await page.evaluate(signed_in, [AGENTS["sam-desk"], "supervisor"])
            banner = page.locator("#alerts-banner")
            await expect(banner.locator('li[data-kind="low_rating"]')).to_contain_text(
                "1 star(s) after the conversation with rita-desk")
            await expect(banner.get_by_role("link")).to_have_attribute("href", "/reports")
        finally:
            await h.redis.delete(keys.ALERTS_ACTIVE, keys.ALERT_LEASE)

"""Hardening of the gateway (issue 8): security headers on every response, pages that work under
their Content-Security-Policy in Chromium, /metrics behind METRICS_TOKEN, /healthz without error
text, and an order-number pattern whose search is linear in the text."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import stack
import yaml
from playwright.async_api import Browser, Page, expect

from actions import orders, unknown_messages
from tests.gateway_helpers import (
    Gateway,
    running_gateway,
)

# The standard library's own parse of a pattern (re._parser since 3.11; the public sre_parse is deprecated).
sre_parse: Any = re._parser  # type: ignore[attr-defined]
sre_constants: Any = re._constants  # type: ignore[attr-defined]
ROOT = Path(__file__).resolve().parent.parent
SUPERVISOR = "sue-hardening-" + "s" * 24
METRICS_TOKEN = "metrics-" + "m" * 32


@pytest.fixture
async def hardened(gateway: Gateway) -> AsyncIterator[Gateway]:
    settings = replace(gateway.settings, agent_tokens=f"sue-hardening:{SUPERVISOR}:supervisor", metrics_token=METRICS_TOKEN)
    async with running_gateway(settings) as running:
        yield running


async def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers=headers or {}) as response:
            return response.status, dict(response.headers), await response.text()


def _directives(csp: str) -> dict[str, str]:
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in (p.strip() for p in csp.split(";")) if part}


async def test_every_response_carries_the_security_headers(hardened: Gateway) -> None:
    paths = ["/agent", "/reports", "/", "/widget.js", "/shop.css", "/agent/static/console.js", "/api/handoff/queue",
             "/healthz", "/no-such-page"]
    for path in paths:
        _status, headers, _ = await _get(hardened.url + path)
        csp = _directives(headers["Content-Security-Policy"])
        assert "'unsafe-inline'" not in headers["Content-Security-Policy"], path
        assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'", path
        assert csp["frame-ancestors"] == "'none'" and headers["X-Frame-Options"] == "DENY", path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "no-referrer", path
    # The widget is a script for the shop's own pages: served as JavaScript (nosniff needs it right).
    _status, headers, _ = await _get(hardened.url + "/widget.js")
    assert headers["Content-Type"].startswith("application/javascript")


async def _csp_page(browser: Browser, violations: list[str]) -> Page:
    page = await (await browser.new_context(locale="de-DE")).new_page()
    page.on("console", lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda exc: violations.append(str(exc)))
    return page


async def test_console_reports_and_widget_work_under_their_policy_in_chromium(hardened: Gateway, browser: Browser) -> None:
    violations: list[str] = []
    page = await _csp_page(browser, violations)
    try:
        # The console: signs in over its websocket (connect-src 'self').
        await page.goto(hardened.url + "/agent")
        await page.get_by_label("Agenten-Token").fill(SUPERVISOR)
        await page.get_by_role("button", name="Anmelden").click()
        await expect(page.locator("#status")).to_have_text("angemeldet als sue-hardening")

        await page.goto(hardened.url + "/reports")  # signed in with the console's token
        await expect(page.get_by_role("heading", name="Zufriedenheit pro Woche")).to_be_visible()

        # The demo shop with the widget: its styles come as a constructed style sheet, not inline.
        await page.goto(hardened.url + "/")
        await expect(page.get_by_role("heading", name="Alpenkiste")).to_be_visible()
        launch = page.get_by_role("button", name="Chat öffnen")
        assert await launch.evaluate("(b) => getComputedStyle(b).position") == "fixed"
        assert await page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor") == "rgb(31, 95, 74)"
        await launch.click()
        await expect(page.get_by_role("textbox", name="Deine Nachricht …")).to_be_focused()
    finally:
        await page.context.close()
    assert violations == []


async def test_metrics_need_the_metrics_token_when_it_is_set(hardened: Gateway, gateway: Gateway) -> None:
    assert (await _get(hardened.url + "/metrics"))[0] == 401
    assert (await _get(hardened.url + "/metrics", {"Authorization": "Bearer wrong-" + "w" * 32}))[0] == 401
    status, _headers, text = await _get(hardened.url + "/metrics", {"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert status == 200 and "shopdesk_messages_in_total" in text
    assert (await _get(gateway.url + "/metrics"))[0] == 200  # without METRICS_TOKEN: open, as before


async def test_healthz_names_what_failed_without_its_error_text(gateway: Gateway, service_logs: Path) -> None:
    redis_port, rasa_port = stack.free_port(), stack.free_port()
    redis = stack.start_redis(redis_port, None, service_logs / "hardening-redis")
    try:
        sick_settings = replace(gateway.settings, redis_url=redis.url, rasa_url=f"http://127.0.0.1:{rasa_port}")
        async with running_gateway(sick_settings) as sick:
            redis.stop()
            status, _headers, text = await _get(f"{sick.url}/healthz")
    finally:
        redis.stop()
    assert status == 503
    assert yaml.safe_load(text) == {"status": "unavailable", "failed": ["rasa", "redis"],
                                    "checks": {"rasa": "failed", "redis": "failed", "database": "ok"}}
    assert str(redis_port) not in text and str(rasa_port) not in text and "Error" not in text


def _repeats(pattern: str) -> list[tuple[int, int]]:
    """(min, max) of every quantifier in a pattern, nested ones included."""
    found: list[tuple[int, int]] = []

    def walk(items: Any) -> None:
        for op, arg in items:
            if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
                found.append((arg[0], arg[1]))
                walk(arg[2])
            elif op is sre_constants.SUBPATTERN:
                walk(arg[-1])
            elif op is sre_constants.BRANCH:
                for branch in arg[1]:
                    walk(branch)

    walk(sre_parse.parse(pattern))
    return found


def _nlu_order_patterns() -> list[str]:
    found = []
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text())["nlu"]:
            if item.get("regex") == "order_number":
                found += [line.removeprefix("- ").strip() for line in item["examples"].splitlines() if line.strip()]
    return found


def test_order_number_patterns_have_only_small_bounded_quantifiers() -> None:
    # With every quantifier bounded (and none unbounded inside another), the work at each start
    # position is a constant, so a search is linear in the length of the customer's text.
    patterns = [orders._ORDER_NUMBER.pattern, *_nlu_order_patterns()]
    assert len(patterns) >= 2
    for pattern in patterns:
        repeats = _repeats(pattern)
        assert repeats, pattern
        assert all(high <= 6 for _low, high in repeats), (pattern, repeats)
    order_part = unknown_messages._ORDER.pattern
    assert re.search(r"\\s\*|\\s\+", order_part) is None  # no unbounded run of spaces next to the separators


@pytest.mark.parametrize(("text", "expected"), [
    ("AK-123456", "AK-123456"), ("ak 123456", "AK-123456"), ("AK - 123456", "AK-123456"), ("#AK_123456!", "AK-123456"),
    ("AK" + " " * 5000 + "123456", None), ("AK1234567", None),
])
def test_order_numbers_are_still_found_as_customers_type_them(text: str, expected: str | None) -> None:
    assert orders.find_order_number(text) == expected

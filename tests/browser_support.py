"""Shared parts of the browser tests: a page that fails its test on a script error or a browser
dialog, and axe-core (from requirements/web, installed in .venv/node)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Dialog, Page

AXE = Path(__file__).resolve().parent.parent / ".venv" / "node" / "node_modules" / "axe-core" / "axe.min.js"



@asynccontextmanager
async def watched_page(browser: Browser, dialogs: list[str] | None = None, **context: Any) -> AsyncIterator[Page]:
    """A page in a context of its own (`context`: locale, viewport, …). A script error on it fails the
    test; so does an alert/confirm/prompt (the widget and the console ask inside the page), which is
    dismissed and kept in `dialogs` for the test to read."""
    opened = await browser.new_context(**context)
    page = await opened.new_page()
    errors: list[str] = []
    seen = [] if dialogs is None else dialogs
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    async def on_dialog(dialog: Dialog) -> None:
        seen.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    try:
        yield page
    finally:
        await opened.close()
    assert errors == []
    assert seen == []


async def serious_axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations of impact serious or critical on the page as it is now."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated by the test driver, not added as a <script>: the gateway's Content-Security-Policy
        # refuses inline scripts on its pages, as it should.
        await page.evaluate(AXE.read_text())
    violations: list[dict[str, Any]] = await page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" "))}))"""
    )
    return violations

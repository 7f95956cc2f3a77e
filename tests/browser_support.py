"""Shared parts of the browser tests: axe-core (from requirements/web, installed in .venv/node)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Page

AXE = Path(__file__).resolve().parent.parent / ".venv" / "node" / "node_modules" / "axe-core" / "axe.min.js"


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

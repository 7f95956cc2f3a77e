"""Routes of the reports (supervisors only, through `AgentRoutes.guard(…, Role.supervisor)`).

| route                                  | what                                                            |
| -------------------------------------- | --------------------------------------------------------------- |
| `GET /reports`                         | the page (no data in it: it asks for the token like the console) |
| `GET /reports/chart.umd.js`            | Chart.js from `.venv/node` (installed by the setup)             |
| `GET /api/reports/summary?from=&to=`   | the figures (handoff/reports/summary.py)                        |
| `GET /api/reports/ratings?from=&to=&agent=&scope=&min=&max=` | the ratings behind a figure, newest first |
| `GET /api/reports/feedback.csv?from=&to=`, `/api/reports/complaints.csv` | UTF-8 with BOM, `;`      |
| `GET /api/reports/alerts`              | the early warnings that hold now (the console banner)           |
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.reports.alerts import AlertChecker
from handoff.reports.csv_export import complaints_csv, feedback_csv
from handoff.reports.summary import BadPeriod, Period, ReportQueries
from handoff.web.auth import Role
from handoff.work.parts import DeskParts

ROOT = Path(__file__).resolve().parents[2]
STATIC = Path(__file__).resolve().parent / "static"
CHART_JS = ROOT / ".venv" / "node" / "node_modules" / "chart.js" / "dist" / "chart.umd.js"
SCOPES = ("all", "bot_only", "after_agent")

Handler = Callable[[web.Request, str], Awaitable[web.StreamResponse]]
Guard = Callable[[Handler, Role], Callable[[web.Request], Awaitable[web.StreamResponse]]]


class ChartLibraryMissing(RuntimeError):
    pass


def chart_library(path: Path = CHART_JS) -> Path:
    if not path.is_file():
        raise ChartLibraryMissing(
            f"{path} is missing: the /reports page needs Chart.js 4.5.1 from requirements/web; "
            "run `make setup` (scripts/bootstrap.sh installs it into .venv/node)"
        )
    return path


def _error(status: int, reason: str, detail: str) -> web.Response:
    return web.json_response({"error": reason, "detail": detail}, status=status)


class ReportRoutes:
    def __init__(self, parts: DeskParts, alerts: AlertChecker) -> None:
        self.sessionmaker = parts.sessionmaker
        self.zone = parts.hours.zone  # the shop's (BUSINESS_HOURS): days and dates of the figures
        self.queries = ReportQueries(parts.sessionmaker)
        self.alerts = alerts
        self.chart_js = chart_library()

    def add_to(self, app: web.Application, guard: Guard) -> None:
        app.router.add_get("/reports", self.page)
        app.router.add_get("/reports/chart.umd.js", self.chart)
        app.router.add_get("/api/reports/summary", guard(self.summary, Role.supervisor))
        app.router.add_get("/api/reports/ratings", guard(self.ratings, Role.supervisor))
        app.router.add_get("/api/reports/feedback.csv", guard(self.feedback_csv, Role.supervisor))
        app.router.add_get("/api/reports/complaints.csv", guard(self.complaints_csv, Role.supervisor))
        app.router.add_get("/api/reports/alerts", guard(self.active_alerts, Role.supervisor))

    async def page(self, _request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "reports.html")

    async def chart(self, _request: web.Request) -> web.FileResponse:
        response = web.FileResponse(self.chart_js, headers={"Cache-Control": "public, max-age=86400"})
        response.content_type = "application/javascript"
        return response

    def _period(self, request: web.Request) -> Period:
        return Period.parse(request.query.get("from"), request.query.get("to"), self.zone)

    async def summary(self, request: web.Request, _agent: str) -> web.Response:
        try:
            period = self._period(request)
        except BadPeriod as exc:
            return _error(400, "bad_request", str(exc))
        return web.json_response(await self.queries.summary(period))

    async def ratings(self, request: web.Request, _agent: str) -> web.Response:
        try:
            period = self._period(request)
            low, high = int(request.query.get("min", "1")), int(request.query.get("max", "5"))
        except BadPeriod as exc:
            return _error(400, "bad_request", str(exc))
        except ValueError:
            return _error(400, "bad_request", "min and max are star counts from 1 to 5")
        scope = request.query.get("scope", "all")
        if scope not in SCOPES or not 1 <= low <= high <= 5:
            return _error(400, "bad_request", f"scope is one of {', '.join(SCOPES)}; 1 <= min <= max <= 5")
        rows = await self.queries.ratings(period, agent=request.query.get("agent") or None, scope=scope,
                                          min_rating=low, max_rating=high)
        return web.json_response({"ratings": rows})

    async def feedback_csv(self, request: web.Request, _agent: str) -> web.Response:
        return await self._csv(request, "feedback", feedback_csv)

    async def complaints_csv(self, request: web.Request, _agent: str) -> web.Response:
        return await self._csv(request, "complaints", complaints_csv)

    async def _csv(
        self, request: web.Request, name: str,
        render: Callable[[async_sessionmaker[AsyncSession], Period], Awaitable[bytes]],
    ) -> web.Response:
        try:
            period = self._period(request)
        except BadPeriod as exc:
            return _error(400, "bad_request", str(exc))
        body = await render(self.sessionmaker, period)
        filename = f"{name}-{period.first.isoformat()}-{period.last.isoformat()}.csv"
        return web.Response(body=body, headers={
            "Content-Type": "text/csv; charset=utf-8", "Content-Disposition": f'attachment; filename="{filename}"',
        })

    async def active_alerts(self, _request: web.Request, _agent: str) -> web.Response:
        return web.json_response({"alerts": await self.alerts.active()})

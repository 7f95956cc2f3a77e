"""The agent API (JSON), the agent websocket and the console page.

Every `/api/handoff/…`, `/api/conversations/…` and `/agent/ws` request needs the agent's token:
`Authorization: Bearer <token>` (401 without or with a wrong one). The websocket takes it in that
header or as the first frame, `{"type": "auth", "token": …}` (the console's way), never in the URL,
where access logs and browser history would keep it: a socket with `?token=` is refused with 400.
A socket that does not authenticate within 10 s is closed with 4401. Wrong tokens are throttled
per client address (handoff.web.throttle: 429 `signin_throttled` with Retry-After).

Reading a conversation follows the roles (handoff.web.access): 403 not_at_desk/not_yours otherwise.

Errors are JSON `{"error": <reason>, "detail": <text>}`: 400 bad_request, 401 unauthorized,
403 not_owner/supervisor_only/not_at_desk/not_yours, 409 taken/not_queued, 429 limit/signin_throttled,
422 reply_window_closed, 502 delivery_failed, 503 redis_unavailable/database_unavailable.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from core.client_address import TrustedProxies, client_address
from core.contract import DeliveryFailed, WindowClosed
from core.request_body import json_body
from handoff.queue.desk_queue import ClaimRefused, NotOwner
from handoff.web.access import DeskAccess, Refusal
from handoff.web.auth import AgentAuth, Role
from handoff.web.team import TeamWork
from handoff.web.throttle import Locked, SigninThrottle
from handoff.work.desk import HandoffDesk

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
AUTH_FRAME_SECONDS = 10.0

Handler = Callable[[web.Request, str], Awaitable[web.StreamResponse]]


def error(status: int, reason: str, detail: str, **extra: Any) -> web.Response:
    return web.json_response({"error": reason, "detail": detail, **extra}, status=status)


def bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class AgentRoutes:
    def __init__(self, desk: HandoffDesk, auth: AgentAuth, team: TeamWork, access: DeskAccess) -> None:
        self.desk = desk
        self.auth = auth
        self.config = desk.parts.config
        self.team = team
        self.access = access
        self.throttle = SigninThrottle(desk.parts.redis, desk.parts.config)
        # Sign-ins are counted per client: behind a trusted proxy, the address it saw.
        self.trusted = TrustedProxies.parse(desk.parts.config.trusted_proxies)

    def add_to(self, app: web.Application) -> None:
        app.router.add_get("/agent", self.console)
        app.router.add_get("/agent/", self.console)
        app.router.add_static("/agent/static/", STATIC)
        app.router.add_get("/agent/ws", self.websocket)
        app.router.add_get("/api/handoff/queue", self.guard(self.queue))
        app.router.add_post("/api/handoff/{conversation_id}/claim", self.guard(self.claim))
        app.router.add_post("/api/handoff/{conversation_id}/messages", self.guard(self.message))
        app.router.add_post("/api/handoff/{conversation_id}/release", self.guard(self.release))
        app.router.add_post("/api/handoff/{conversation_id}/close", self.guard(self.close))
        app.router.add_get("/api/conversations/{conversation_id}", self.guard(self.reads(self.conversation)))
        self.team.add_to(app, self.guard, self.reads, error)

    def guard(self, handler: Handler, role: Role = Role.agent) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """Wraps a handler that needs a signed-in account (of `role` or higher); it is called
        with the account's name. Other route modules (reports, privacy) wrap theirs here too."""
        async def guarded(request: web.Request) -> web.StreamResponse:
            try:
                agent = await self.sign_in(client_address(request, self.trusted) or "unknown", bearer(request))
                if isinstance(agent, Locked):
                    return throttled(agent)
                if agent is None:
                    return error(401, "unauthorized", "send Authorization: Bearer <agent token> (an AGENT_TOKENS token)")
                if role is Role.supervisor and self.auth.role_of(agent) is not Role.supervisor:
                    return error(403, "supervisor_only", "this needs a supervisor account "
                                 "(an AGENT_TOKENS entry name:token:supervisor)")
                await self.desk.agents.seen(agent)
                return await handler(request, agent)
            except RedisError as exc:
                log.error("redis unavailable for %s %s: %s", request.method, request.path, exc)
                return error(503, "redis_unavailable", f"Redis is not reachable ({type(exc).__name__}); "
                             "the queue cannot be read or changed right now, try again shortly")
            except SQLAlchemyError as exc:
                log.error("database unavailable for %s %s: %s", request.method, request.path, exc)
                return error(503, "database_unavailable", f"the database did not answer ({type(exc).__name__}); try again shortly")

        return guarded

    async def sign_in(self, address: str, token: str) -> str | Locked | None:
        """The account of `token`, None for a wrong or missing one, Locked while `address` waits
        after too many wrong ones (handoff.web.throttle: its token is not even checked then)."""
        locked = await self.throttle.locked(address)
        if locked is not None:
            return locked
        agent = await self.auth.agent_for(token)
        if agent is None:
            if token:  # a guess; a request without any token guesses nothing
                await self.throttle.failed(address)
            return None
        await self.throttle.succeeded(address)
        return agent

    def reads(self, handler: Handler) -> Handler:
        """Wraps a handler of `/…/{conversation_id}/…` that reads or annotates the conversation:
        403 unless the account's role lets it read that conversation (handoff.web.access)."""
        async def checked(request: web.Request, agent: str) -> web.StreamResponse:
            refused = await self.access.refusal(request.match_info["conversation_id"], agent)
            if refused is not None:
                return refusal(refused)
            return await handler(request, agent)

        return checked

    async def console(self, _request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "console.html")

    async def hello(self, agent: str) -> dict[str, Any]:
        """The snapshot a console starts from; `time_zone` is the shop's (BUSINESS_HOURS) for dates."""
        return {**await self.desk.views.snapshot(agent), "role": self.auth.role_of(agent).value,
                "time_zone": self.desk.parts.hours.zone.key}

    async def queue(self, _request: web.Request, agent: str) -> web.Response:
        return web.json_response(await self.hello(agent))

    async def claim(self, request: web.Request, agent: str) -> web.Response:
        cid = request.match_info["conversation_id"]
        try:
            conv = await self.desk.agents.claim(cid, agent)
        except ClaimRefused as refused:
            if refused.reason == "taken":
                return error(409, "taken", f"{refused.owner} already has this conversation", owner=refused.owner)
            if refused.reason == "limit":
                limit = self.config.agent_max_conversations
                return error(429, "limit", f"you already hold {limit} conversations (AGENT_MAX_CONVERSATIONS={limit}); "
                             "release or close one first")
            return error(409, "not_queued", "this conversation is not waiting in the queue")
        return web.json_response({"conversation": conv.card(time.time()), "agent": agent})

    async def message(self, request: web.Request, agent: str) -> web.Response:
        cid = request.match_info["conversation_id"]
        body = await json_body(request)
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            return error(400, "bad_request", 'send {"text": "<message to the customer>"}')
        limit = self.config.max_message_chars
        if len(text) > limit:
            return error(400, "bad_request", f"the text has {len(text)} characters, at most {limit} are accepted")
        try:
            template = await self.desk.agents.send(cid, agent, text.strip())
        except NotOwner as exc:
            return _not_owner(exc)
        except WindowClosed as exc:
            return error(422, "reply_window_closed", str(exc))
        except DeliveryFailed as exc:
            log.error("agent message not delivered conversation=%s", cid)
            return error(502, "delivery_failed", f"the message could not be sent to the customer: {exc}")
        return web.json_response({"sent": True, "template": template})

    async def release(self, request: web.Request, agent: str) -> web.Response:
        try:
            position = await self.desk.agents.release(request.match_info["conversation_id"], agent)
        except NotOwner as exc:
            return _not_owner(exc)
        return web.json_response({"released": True, "position": position})

    async def close(self, request: web.Request, agent: str) -> web.Response:
        body = await json_body(request)
        note = body.get("note", "") if isinstance(body, dict) else ""
        if not isinstance(note, str):
            return error(400, "bad_request", 'send {"note": "<resolution note>"}')
        try:
            handed_back = await self.desk.agents.close(request.match_info["conversation_id"], agent, note.strip())
        except NotOwner as exc:
            return _not_owner(exc)
        return web.json_response({"closed": True, "handed_back": handed_back})

    async def conversation(self, request: web.Request, _agent: str) -> web.Response:
        view = await self.desk.views.conversation(request.match_info["conversation_id"])
        return web.json_response({**view, **await self.team.extras(view)})

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        if "token" in request.query:
            return error(400, "token_in_url", "send the token as the first frame {\"type\": \"auth\", \"token\": …} "
                         "or as Authorization: Bearer, never in the URL (access logs keep URLs)")
        address, token = client_address(request, self.trusted) or "unknown", bearer(request)
        try:
            signed_in = await self.sign_in(address, token) if token else await self.throttle.locked(address)
        except RedisError as exc:
            log.error("agent socket refused, redis unavailable: %s", type(exc).__name__)
            return error(503, "redis_unavailable", "Redis is not reachable; try again shortly")
        if isinstance(signed_in, Locked):
            return throttled(signed_in)
        if token and signed_in is None:
            return error(401, "unauthorized", "wrong agent token")
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        agent = signed_in if isinstance(signed_in, str) else None
        if agent is None:
            try:
                signed_in = await self._first_frame_auth(ws, address)
            except RedisError:
                await ws.close(code=1011, message=b"redis unavailable")
                return ws
            if isinstance(signed_in, Locked):
                await ws.close(code=4429, message=f"signin_throttled; retry after {signed_in.retry_after} s".encode())
                return ws
            if signed_in is None:
                await ws.close(code=4401, message=b"unauthorized")
                return ws
            agent = signed_in
        viewing: dict[str, str | None] = {}
        try:
            await self.desk.events.connected(ws, agent)
            await ws.send_json({"type": "hello", **await self.hello(agent)})
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                if message.data == '{"type":"ping"}':
                    await ws.send_str('{"type":"pong"}')
                else:
                    await self.team.frame(agent, viewing, message.data)
        except RedisError as exc:
            log.error("agent socket of %s: redis unavailable: %s", agent, exc)
            await ws.close(code=1011, message=b"redis unavailable")
        finally:
            try:
                await self.desk.events.disconnected(ws)
                await self.team.gone(agent, viewing)
            except RedisError:
                log.warning("could not record that %s's socket closed (redis unavailable)", agent)
        return ws

    async def _first_frame_auth(self, ws: web.WebSocketResponse, address: str) -> str | Locked | None:
        try:
            message = await ws.receive(timeout=AUTH_FRAME_SECONDS)
        except TimeoutError:
            return None
        if message.type != WSMsgType.TEXT:
            return None
        try:
            frame = json.loads(message.data)
        except ValueError:
            return None
        if not isinstance(frame, dict) or frame.get("type") != "auth" or not isinstance(frame.get("token"), str):
            return None
        return await self.sign_in(address, frame["token"])


def throttled(locked: Locked) -> web.Response:
    response = error(429, "signin_throttled", f"too many wrong agent tokens from your address; try again in "
                     f"{locked.retry_after} s", retry_after=locked.retry_after)
    response.headers["Retry-After"] = str(locked.retry_after)
    return response


def refusal(refused: Refusal) -> web.Response:
    return error(403, refused.reason, refused.detail, state=refused.state, owner=refused.owner)


def _not_owner(exc: NotOwner) -> web.Response:
    detail = f"you do not hold this conversation (it is {exc.state.value}" + (f" with {exc.owner})" if exc.owner else ")")
    return error(403, "not_owner", detail, owner=exc.owner, state=exc.state.value)

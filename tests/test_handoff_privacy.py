"""The desk's privacy side (handoff/work/privacy.py): what an export says of a conversation at the
desk, and how an erase takes it off the queue or from its agent with the consoles told why."""

from __future__ import annotations

from handoff.work.privacy import AGENT_NOTICE, DeskPrivacy
from tests.handoff_support import desk_app, new_id, next_event


def _privacy(h) -> DeskPrivacy:
    return DeskPrivacy.open(h.redis, h.desk.parts.sessionmaker)


async def test_a_queued_conversation_is_exported_and_forgotten_with_the_consoles_told(redis_url, database_url):
    async with desk_app(redis_url, database_url) as h:
        cid = new_id()
        await h.handoff(cid)
        ws = await h.socket("anna-desk")
        privacy = _privacy(h)
        assert await privacy.export(cid) == {"state": "queued", "agent": None}
        assert await privacy.forget(cid) is True
        removed = await next_event(ws, lambda e: e.get("type") == "removed" and e.get("conversation_id") == cid)
        assert removed["why"] == "erased" and removed["detail"] == AGENT_NOTICE
        assert (await h.queue())["queue"] == []
        assert await privacy.export(cid) is None
        assert [row["outcome"] for row in await h.desk.parts.records.history(cid)] == ["erased"]
        assert await privacy.forget(cid) is False


async def test_a_conversation_with_an_agent_is_closed_and_the_agent_hears_why(redis_url, database_url):
    async with desk_app(redis_url, database_url) as h:
        cid = new_id()
        await h.handoff(cid)
        assert (await h.claim(cid, "anna-desk")).status == 200
        ws = await h.socket("anna-desk")
        privacy = _privacy(h)
        assert await privacy.export(cid) == {"state": "agent", "agent": "anna-desk"}
        assert await privacy.forget(cid) is True
        closed = await next_event(ws, lambda e: e.get("type") == "closed" and e.get("conversation_id") == cid)
        assert closed["agent"] == "anna-desk" and closed["why"] == "erased"
        told = await next_event(ws, lambda e: e.get("type") == "message" and e.get("conversation_id") == cid)
        assert told["sender"] == "bot" and told["text"] == AGENT_NOTICE
        assert (await h.queue("anna-desk"))["mine"] == []
        assert [row["outcome"] for row in await h.desk.parts.records.history(cid)] == ["erased"]

"""The queue: atomic claims, ordering by priority then time, long waits moving up."""

from __future__ import annotations

import asyncio

from tests.handoff_support import desk_app, new_id


async def test_fifty_concurrent_claims_of_one_conversation_have_exactly_one_winner(redis_url, database_url):
    agents = {f"agent{i:02d}": f"token-{i:02d}-" + "x" * 24 for i in range(50)}
    async with desk_app(redis_url, database_url, agents=agents) as h:
        cid = new_id()
        await h.handoff(cid, reason="complaint", summary="parcel damaged")
        responses = await asyncio.gather(*(h.claim(cid, name) for name in agents))
        statuses = sorted(r.status for r in responses)
        assert statuses == [200] + [409] * 49
        winner = [(await r.json())["agent"] for r in responses if r.status == 200][0]
        losers = [await r.json() for r in responses if r.status == 409]
        assert {body["owner"] for body in losers} == {winner}
        assert all(body["error"] == "taken" for body in losers)
        snapshot = await h.queue(winner)
        assert snapshot["queue"] == []
        assert [c["conversation_id"] for c in snapshot["mine"]] == [cid]


async def test_queue_is_ordered_by_priority_then_time(redis_url, database_url):
    async with desk_app(redis_url, database_url) as h:
        first_normal, complaint, second_normal, billing, repeat = (new_id() for _ in range(5))
        await h.handoff(first_normal, reason="customer_request", priority=0)
        await h.handoff(complaint, reason="complaint", priority=1)
        await h.handoff(second_normal, reason="not_understood", priority=0)
        await h.handoff(billing, reason="billing_complaint", priority=2)
        # A repeated complaint counts as urgent even when the request says less.
        await h.handoff(repeat, reason="repeat_complaint", priority=0)
        queue = (await h.queue())["queue"]
        assert [e["conversation_id"] for e in queue] == [billing, repeat, complaint, first_normal, second_normal]
        assert [e["position"] for e in queue] == [1, 2, 3, 4, 5]
        assert [e["priority"] for e in queue] == [2, 2, 1, 0, 0]


async def test_a_second_handoff_request_while_queued_changes_nothing(redis_url, database_url):
    async with desk_app(redis_url, database_url) as h:
        cid = new_id()
        await h.handoff(cid, reason="customer_request", language="en")
        await h.handoff(cid, reason="complaint", language="en", priority=2)
        queue = (await h.queue())["queue"]
        assert [(e["conversation_id"], e["reason"]) for e in queue] == [(cid, "customer_request")]
        assert len(h.delivery.texts(cid)) == 1


async def test_a_long_wait_moves_a_conversation_up_one_priority(redis_url, database_url):
    async with desk_app(redis_url, database_url, queue_timeout_seconds=1.0) as h:
        old = new_id()
        await h.handoff(old, reason="customer_request")
        await asyncio.sleep(0.7)  # past half the queue timeout
        newer = new_id()
        await h.handoff(newer, reason="complaint", priority=1)
        await h.desk.sweeper.sweep_once()
        queue = (await h.queue())["queue"]
        assert [e["conversation_id"] for e in queue] == [old, newer]
        assert queue[0]["priority"] == 1


async def test_claim_of_a_conversation_that_is_not_queued_is_refused(redis_url, database_url):
    async with desk_app(redis_url, database_url) as h:
        response = await h.claim(new_id(), "anna-desk")
        assert response.status == 409
        assert (await response.json())["error"] == "not_queued"


async def test_an_agent_at_the_limit_cannot_claim_more(redis_url, database_url):
    async with desk_app(redis_url, database_url, agent_max_conversations=2) as h:
        ids = [new_id() for _ in range(3)]
        for cid in ids:
            await h.handoff(cid)
        assert (await h.claim(ids[0], "anna-desk")).status == 200
        assert (await h.claim(ids[1], "anna-desk")).status == 200
        refused = await h.claim(ids[2], "anna-desk")
        assert refused.status == 429
        body = await refused.json()
        assert body["error"] == "limit" and "AGENT_MAX_CONVERSATIONS=2" in body["detail"]
        assert (await h.claim(ids[2], "ben-desk")).status == 200


async def test_claiming_again_is_harmless_for_the_owner(redis_url, database_url):
    async with desk_app(redis_url, database_url) as h:
        cid = new_id()
        await h.handoff(cid)
        assert (await h.claim(cid, "anna-desk")).status == 200
        assert (await h.claim(cid, "anna-desk")).status == 200
        assert [c["conversation_id"] for c in (await h.queue("anna-desk"))["mine"]] == [cid]

"""Retention by default: backdated conversations, complaints, tracker events and dead letters are
anonymised or removed by the pass, recent ones stay; with two gateway processes the pass runs once,
and a pass that failed leaves the lease to the next process."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
import time
from collections import Counter
from pathlib import Path

import stack
from redis.asyncio import Redis
from sqlalchemy import DateTime, column, func, select, table, text
from sqlalchemy.exc import SQLAlchemyError

from bot import keys
from bot.channels.registry import customer_ids
from bot.privacy import registry
from bot.privacy.retention import Retention
from bot.privacy.service import Privacy
from bot.privacy.stores import Families, Stores, tracker_engine
from db.engine import create_engine, session_factory
from db.models import Complaint, Contact, Feedback, Handoff, Message, PrivacyLog
from tests.gateway_helpers import (
    TEST_SECRET,
    WebchatClient,
    eventually,
    gateway_env,
    new_session_id,
    webchat_id,
)

DAY = dt.timedelta(days=1)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _conversation(sessionmaker, cid: str, age: dt.timedelta, complaint_age: dt.timedelta | None = None) -> None:  # type: ignore[no-untyped-def]
    at = _now() - age
    async with sessionmaker() as session, session.begin():
        session.add_all([
            Message(conversation_id=cid, channel="whatsapp", sender="customer", text=f"secret text of {cid}", created_at=at),
            Message(conversation_id=cid, channel="whatsapp", sender="bot", text="Danke!", created_at=at),
            Contact(conversation_id=cid, channel="whatsapp", address=f"whatsapp:+49{secrets.randbelow(10**9)}",
                    last_inbound_at=at, created_at=at),
            Feedback(conversation_id=cid, channel="whatsapp", rating=5, comment=f"comment of {cid}", agent_id="anna",
                     created_at=at),
            Handoff(conversation_id=cid, channel="whatsapp", reason="complaint", priority=1, summary=f"summary of {cid}",
                    agent_id="anna", resolution_note=f"note of {cid}", queued_at=at, claimed_at=at + dt.timedelta(minutes=3),
                    closed_at=at + dt.timedelta(minutes=9), outcome="closed"),
            Complaint(reference="R-" + secrets.token_hex(5), conversation_id=cid, channel="whatsapp", category="damaged",
                      order_number="AK-100001", description=f"description of {cid}", status="open",
                      created_at=_now() - (complaint_age or age)),
        ])


async def test_the_retention_pass_anonymises_what_is_older_than_the_settings(
    database_url: str, redis_url: str, privacy_gateway, rasa_tracker_db: Path,  # type: ignore[no-untyped-def]
) -> None:
    # A conversation Rasa really had, made 200 days old in the tracker store too.
    old_web = new_session_id()
    async with WebchatClient.connect(privacy_gateway.ws_url, old_web) as customer:
        await customer.next("history")
        await customer.say("Wie lange dauert der Versand?")
        await customer.messages_until_quiet()
    engine = create_engine(database_url)
    tracker = tracker_engine(f"sqlite:///{rasa_tracker_db}")
    redis = Redis.from_url(redis_url, decode_responses=True)
    sessionmaker = session_factory(engine)
    try:
        async with tracker.begin() as conn:
            await conn.execute(text("UPDATE events SET timestamp = timestamp - :s WHERE sender_id = :c"),
                               {"s": 200 * 86400, "c": webchat_id(old_web)})
        async with sessionmaker() as session, session.begin():
            for spec in registry.SQL_TABLES:  # every row of it that records activity (transcript, reports)
                for name in spec.activity_columns:
                    await session.execute(
                        table(spec.name, column(spec.conversation_column), column(name, DateTime(timezone=True)))
                        .update().where(column(spec.conversation_column) == webchat_id(old_web))
                        .values({name: _now() - 200 * DAY}))
        old, warranty, recent = (f"wa-old{secrets.token_hex(8)}", f"wa-war{secrets.token_hex(8)}",
                                 f"wa-new{secrets.token_hex(8)}")
        await _conversation(sessionmaker, old, 200 * DAY)
        await _conversation(sessionmaker, warranty, 800 * DAY)
        await _conversation(sessionmaker, recent, 10 * DAY, complaint_age=10 * DAY)
        stale_letter = json.dumps({"entry": json.dumps({"conversation_id": old, "text": "x"}), "error": "E",
                                   "attempts": 8, "at": time.time() - 200 * 86400})
        fresh_letter = json.dumps({"entry": json.dumps({"conversation_id": recent, "text": "y"}), "error": "E",
                                   "attempts": 8, "at": time.time()})
        await redis.rpush(keys.DEAD_LETTER, stale_letter, fresh_letter)

        privacy = Privacy(Stores(sessionmaker, tracker, redis, secret=TEST_SECRET, families=Families(customer_ids())))
        counts = await Retention(privacy, 180, 730, 3600).run_once()

        assert counts["tracker.events"] > 0 and counts["redis.dead_letters"] >= 1
        async with sessionmaker() as session:
            def rows(model, cid):  # type: ignore[no-untyped-def]
                return session.scalars(select(model).where(model.conversation_id == cid))
            for cid in (old, warranty, webchat_id(old_web)):
                assert (await rows(Message, cid)).all() == [] and (await rows(Contact, cid)).all() == []
                assert (await rows(Feedback, cid)).all() == [] and (await rows(Handoff, cid)).all() == []
            # Within the warranty period the complaint of the old conversation stays as it was.
            [kept] = (await rows(Complaint, old)).all()
            assert kept.description == f"description of {old}" and kept.order_number == "AK-100001"
            assert (await rows(Complaint, warranty)).all() == []
            assert len((await rows(Message, recent)).all()) == 2 and (await rows(Feedback, recent)).one().comment
            anonymised = (await session.scalars(select(Feedback).where(Feedback.conversation_id.like("anon-%"),
                                                                       Feedback.rating == 5))).all()
            assert all(f.comment is None and f.agent_id == "anna" for f in anonymised) and len(anonymised) >= 2
            handoffs = (await session.scalars(select(Handoff).where(Handoff.conversation_id.like("anon-%"),
                                                                    Handoff.reason == "complaint"))).all()
            assert all(h.summary == "" and h.resolution_note is None and h.claimed_at for h in handoffs)
            complaint = (await session.scalars(select(Complaint).where(Complaint.description == "",
                                                                       Complaint.category == "damaged"))).all()
            assert complaint and all(c.order_number is None and c.conversation_id.startswith("anon-") for c in complaint)
            logged = (await session.scalars(select(PrivacyLog).where(PrivacyLog.action == "retention")
                                            .order_by(PrivacyLog.id.desc()))).first()
            assert logged is not None and logged.actor == "retention" and logged.conversations >= 3
            assert "description of" not in logged.counts
        async with tracker.connect() as conn:
            left = (await conn.execute(text("SELECT COUNT(*) FROM events WHERE sender_id = :c"),
                                       {"c": webchat_id(old_web)})).scalar_one()
        assert left == 0
        letters = await redis.lrange(keys.DEAD_LETTER, 0, -1)
        assert stale_letter not in letters and fresh_letter in letters
        await redis.lrem(keys.DEAD_LETTER, 0, fresh_letter)

        again = await Retention(privacy, 180, 730, 3600).run_once()
        assert again.get("sql.messages", 0) == 0 and again.get("sql.complaints", 0) == 0
    finally:
        await redis.aclose()
        await engine.dispose()
        await tracker.dispose()


async def test_two_gateway_processes_run_the_retention_pass_once(
    own_database: tuple[str, Path], service_logs: Path, twilio_standin: str, tmp_path: Path,
) -> None:
    database_url, _ = own_database
    redis_service = stack.start_redis(stack.free_port(), None, service_logs)
    engine = create_engine(database_url)
    sessionmaker = session_factory(engine)
    started: list[stack.Service] = []
    try:
        old = [f"wa-two{secrets.token_hex(8)}" for _ in range(3)]
        for cid in old:
            await _conversation(sessionmaker, cid, 400 * DAY)
        for name in ("gateway-retention-a", "gateway-retention-b"):
            port = stack.free_port()
            env = gateway_env(redis_service.url, database_url, "http://127.0.0.1:9", twilio_standin,
                              PUBLIC_URL=f"http://127.0.0.1:{port}", RETENTION_INTERVAL_SECONDS="3600",
                              RASA_TRACKER_DB_URL=f"sqlite:///{tmp_path / 'tracker.db'}")
            started.append(stack.start_gateway(port, stack.app_env(**env), service_logs, name=name))

        async def runs() -> int:
            async with sessionmaker() as session:
                return int((await session.scalar(
                    select(func.count()).select_from(PrivacyLog).where(PrivacyLog.action == "retention"))) or 0)
        await eventually(runs, lambda n: n >= 1, timeout=30)
        await asyncio.sleep(3)  # both processes have looked at the lease by now (1 s after start)
        assert await runs() == 1
        async with sessionmaker() as session:
            assert (await session.scalars(select(Message).where(Message.conversation_id.in_(old)))).all() == []
    finally:
        for service in started:
            service.stop()
        redis_service.stop()
        await engine.dispose()


async def test_a_failed_retention_pass_gives_the_lease_up_for_the_next_process(
    database_url: str, service_logs: Path,
) -> None:
    redis_service = stack.start_redis(stack.free_port(), None, service_logs)
    redis = Redis.from_url(redis_service.url, decode_responses=True)
    engine = create_engine(database_url)
    tried = asyncio.Event()

    class DatabaseAway(Retention):
        async def run_once(self) -> Counter[str]:
            tried.set()
            raise SQLAlchemyError("the database is away")

    stores = Stores(session_factory(engine), None, redis, secret=TEST_SECRET, families=Families(customer_ids()))
    retention = DatabaseAway(Privacy(stores), 180, 730, 3600)
    task = asyncio.create_task(retention.loop())
    try:
        await asyncio.wait_for(tried.wait(), timeout=10)
        # Without the release the lease would block every process for the whole interval.
        await eventually(lambda: redis.exists(keys.RETENTION_LEASE), lambda held: held == 0, timeout=5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await redis.aclose()
        redis_service.stop()
        await engine.dispose()

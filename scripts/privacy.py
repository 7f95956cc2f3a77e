"""`make export` / `make erase`: one customer's data as JSON, or erased everywhere.

    python scripts/privacy.py export|erase --whatsapp +4915110000001
    python scripts/privacy.py export|erase --webchat <session id>
    python scripts/privacy.py export|erase --conversation <conversation id>

The same environment as `make run`: SHOPDESK_VAR (default ./var), DATABASE_URL (default
sqlite:///$SHOPDESK_VAR/shopdesk.db), RASA_TRACKER_DB_URL (default sqlite:///$SHOPDESK_VAR/rasa_tracker.db)
and REDIS_URL; without REDIS_URL it uses the embedded Redis of a running `make run` (its address
is in $SHOPDESK_VAR/redis-url), or, when `make run` is stopped, starts that Redis on its data for
the run. Export prints the JSON document; erase prints one line of counts (no personal data).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import services  # noqa: E402
import stack  # noqa: E402

from bot.channels.registry import customer_ids  # noqa: E402
from bot.privacy.audit import OPERATOR  # noqa: E402
from bot.privacy.service import Privacy, summary  # noqa: E402
from bot.privacy.stores import BadSubject, Families, Stores, Subject, tracker_engine  # noqa: E402
from bot.secret_files import var_dir  # noqa: E402
from bot.settings import Settings  # noqa: E402
from core.attachments import AttachmentStore  # noqa: E402
from db.engine import create_engine, session_factory  # noqa: E402

VAR = var_dir()


def _redis_url() -> tuple[str, stack.Service | None]:
    """REDIS_URL, else a running `make run`'s embedded Redis, else that Redis started on its data."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"], None
    url_file = VAR / "redis-url"
    if url_file.exists():
        url = url_file.read_text().strip()
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        if stack.port_open(port):
            return url, None
    data = VAR / "redis"
    if data.is_dir():
        password_file = VAR / services.REDIS_PASSWORD_FILE  # its data is make run's: so is its password
        password = password_file.read_text().strip() if password_file.exists() else None
        service = stack.start_redis(stack.free_port(), data, VAR / "logs", password)
        return service.url, service
    raise SystemExit(f"no Redis: set REDIS_URL, or start `make run` (its embedded Redis keeps its data in {data})")


async def _run(action: str, subject: Subject, families: Families, redis_url: str) -> int:
    from redis.asyncio import Redis

    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR / 'shopdesk.db'}"
    tracker_url = os.environ.get("RASA_TRACKER_DB_URL") or f"sqlite:///{VAR / 'rasa_tracker.db'}"
    engine = create_engine(database_url)
    redis = Redis.from_url(redis_url, decode_responses=True)
    settings = Settings.from_env({**os.environ, "SHOPDESK_VAR": str(VAR)})  # SHOPDESK_SECRET as make run has it
    stores = Stores(session_factory(engine), tracker_engine(tracker_url), redis,
                    AttachmentStore.from_config(settings), secret=settings.shopdesk_secret, families=families)
    try:
        await redis.ping()
        privacy = Privacy(stores)
        if action == "export":
            document = await privacy.export(subject, OPERATOR)
            print(json.dumps(document, ensure_ascii=False, indent=2))
        else:
            conversations, counts = await privacy.erase(subject, OPERATOR)
            print("erased " + summary(counts, conversations))
        return 0
    finally:
        await redis.aclose()
        await engine.dispose()
        if stores.tracker is not None:
            await stores.tracker.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export or erase one customer's data (GDPR Art. 15/17).")
    parser.add_argument("action", choices=("export", "erase"))
    who = parser.add_mutually_exclusive_group(required=True)
    families = Families(customer_ids())
    for family in families:  # --whatsapp, --webchat: each channel family names its customers
        who.add_argument(f"--{family.family}", help=family.describes)
    prefixes = ", ".join(f"{family.id_prefix}…" for family in families)
    who.add_argument("--conversation", help=f"a conversation id ({prefixes})")
    args = parser.parse_args(argv)
    try:
        subject = families.subject({**{f.family: getattr(args, f.family) for f in families},
                                    "conversation_id": args.conversation})
    except BadSubject as exc:
        parser.error(str(exc))
    redis_url, started = _redis_url()
    try:
        return asyncio.run(_run(args.action, subject, families, redis_url))
    finally:
        if started is not None:
            started.stop()


if __name__ == "__main__":
    sys.exit(main())

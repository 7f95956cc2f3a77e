"""The live-agent desk: queue and conversation states in Redis, agent API and console.

Path of a handoff: Rasa's `handoff` payload → router → `HandoffDesk.request_handoff` (desk.py)
→ atomic enqueue (queue.py, Lua) → `added` event over Redis pub/sub (events.py) → every
agent console (static/, api.py) → claim / messages / release / close → `BotHandback`.

- app.py            `setup_handoff(app, settings, redis, sessionmaker, delivery, handback, bot)`
- state.py          `ConversationState` (bot → queued → agent → bot), queue score, the Redis record
- keys.py           every Redis key, documented
- queue.py          the Lua scripts: enqueue, claim, release, grace expiry, close, leave
- desk.py           the `Desk` the router uses, agent actions, customer texts, the sweeper
- business_hours.py `BUSINESS_HOURS` parser; texts.py the de/en customer texts
- auth.py           AGENT_TOKENS → `agents` (salted scrypt), bearer checks with a short cache
- records.py        the `handoffs` rows and what the agent reads from SQL
- api.py            `/api/handoff/…`, `/api/conversations/…`, `/agent/ws`, `/agent`
- complaints.py     `/api/complaints…`: a customer's complaints, their lifecycle, the customer told

Agent websocket: `Authorization: Bearer` or (the console) a first frame `{"type": "auth", "token": …}`,
never `?token=` (400); a wrong token gets 401 before the upgrade or close code 4401, an address
throttled after wrong tokens 429 or close code 4429 (handoff/web/throttle.py). Who reads which
conversation: handoff/web/access.py.

Failures: state and queue live only in Redis, so a restarted or second gateway continues every
conversation; the transcript is in SQL and the console reloads the open conversation from
`GET /api/conversations/{id}` after every reconnect. While Redis is down the API answers 503
(`redis_unavailable`) and `takes_message`/`request_handoff` raise `DeskUnavailable`: the router
must keep the customer's message and retry (the desk's steps are idempotent). An agent whose
console sockets are all gone (closed, or no heartbeat for 3 intervals because the process died)
and who made no API call for `AGENT_GRACE_SECONDS` loses their conversations to the front of
the queue (the sweeper, safe to run in every process: each move is one Lua script).
"""

"""The live-agent desk: conversation states and the queue in Redis, the agents' work, the agent API and
console, the supervisors' reports. It never imports the gateway (`bot/`): what it needs of it comes in
through `core.contract` (`Delivery`, `BotHandback`, `BotTrigger`).

Path of a handoff: Rasa's `handoff` payload → router → `HandoffDesk.request_handoff` (work/desk.py,
its `intake` part) → atomic enqueue (queue/desk_queue.py, Lua) → `added` event over Redis pub/sub
(work/events.py) → every agent console (web/api.py, web/static/) → claim / messages / release / close
(work/agent_actions.py) → `BotHandback`.

Rooms, each importing only the ones before it (tests/test_architecture.py):
- queue/    keys.py (every Redis key), state.py (`ConversationState`, the record), desk_queue.py
            (`DeskQueue`: enqueue with its caps, claim, release, grace expiry, close, leave; each one Lua script)
- work/     parts.py (`DeskParts`, built once and handed to every part), desk.py (`HandoffDesk`) assembled
            from intake.py, agent_actions.py, views.py, sweeper.py, notices.py; events.py, presence.py,
            typing.py, transfer.py, notes.py, records.py (SQL), customer.py, starts.py, replies.py,
            business_hours.py, privacy.py (`DeskPrivacy`: what export and erase ask of the desk)
- reports/  summary.py, csv_export.py, alerts.py, keys.py (imports neither work nor web)
- web/      app.py (`setup_handoff(app, settings, redis, sessionmaker, delivery, handback, bot)`), api.py,
            team.py, complaints.py, reports.py, access.py, auth.py, throttle.py, static/
Beside them: config.py (what the desk reads of the settings), labels.py (the customer's label).

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

"""Every Redis key and pub/sub channel of the live-agent desk, in one place (prefix `shopdesk:desk:`).

| key                                   | type   | what                                                             |
| ------------------------------------- | ------ | ---------------------------------------------------------------- |
| `shopdesk:desk:conv:{id}`             | hash   | a conversation with the desk: `state` (queued/agent), the handoff |
|                                       |        | card (reason, priority, summary, …), `agent`, timestamps, flags, |
|                                       |        | `address` (keyed hash of the web chat client's address, for the  |
|                                       |        | cap per address), `customer_seen` (last sign of life, unix s).   |
|                                       |        | No hash means state `bot`.                                       |
| `shopdesk:desk:queue`                 | zset   | queued conversation ids; score = priority band × 1e13 + queued   |
|                                       |        | time in ms, so ZRANGE gives priority first, then oldest first    |
| `shopdesk:desk:assigned`              | set    | conversation ids in state `agent` (the grace sweeper walks it)    |
| `shopdesk:desk:agent:{name}:convs`    | set    | the conversations one agent holds (max concurrent)                |
| `shopdesk:desk:agent:{name}:sockets`  | zset   | the agent's open console websockets → last heartbeat (unix s)    |
| `shopdesk:desk:agent:{name}:seen`     | string | last time the agent was seen (API call, socket heartbeat/close)  |
| `shopdesk:desk:waits`                 | list   | recent pickup waits in seconds per queue place, newest first     |
| `shopdesk:desk:shown:{id}:{message}`  | string | set once a customer message (its MessageSid / client id) was     |
|                                       |        | shown to the agents: a router retry does not show it twice       |
| `shopdesk:desk:viewers:{id}`         | zset   | agents whose console shows the conversation → expiry (unix s);   |
|                                       |        | the key itself expires too (presence, "who else is viewing")     |
| `shopdesk:desk:typing:{id}`          | string | set while a customer's typing was just shown (throttle)          |
| `shopdesk:desk:signin:{address}`      | hash   | wrong agent tokens from one client address: `failures`, `until` |
|                                       |        | (locked until, unix s); expires (handoff.web.throttle)               |
| `shopdesk:desk:events`                | pubsub | queue and message events for every process's agent websockets    |

All multi-key changes go through the Lua scripts in handoff/queue/desk_queue.py, which take these keys
as KEYS arguments.
"""

from __future__ import annotations

PREFIX = "shopdesk:desk:"

QUEUE = PREFIX + "queue"
ASSIGNED = PREFIX + "assigned"
WAITS = PREFIX + "waits"
EVENTS = PREFIX + "events"

# How many recent waits the estimate looks at.
WAITS_KEPT = 50


def conversation(conversation_id: str) -> str:
    return f"{PREFIX}conv:{conversation_id}"


def agent_conversations(agent: str) -> str:
    return f"{PREFIX}agent:{agent}:convs"


def agent_sockets(agent: str) -> str:
    return f"{PREFIX}agent:{agent}:sockets"


def agent_seen(agent: str) -> str:
    return f"{PREFIX}agent:{agent}:seen"


def shown(conversation_id: str, message_id: str) -> str:
    return f"{PREFIX}shown:{conversation_id}:{message_id}"


def viewers(conversation_id: str) -> str:
    return f"{PREFIX}viewers:{conversation_id}"


def typing(conversation_id: str) -> str:
    return f"{PREFIX}typing:{conversation_id}"


def signin_failures(address: str) -> str:
    return f"{PREFIX}signin:{address}"


# Closes an agent started whose later steps (the closed event, the handoff record, the hand back
# to the bot) are not all done yet: the desk's sweeper finishes them (handoff/work/agent_actions.py).
CLOSING = PREFIX + "closing"


def closing(conversation_id: str) -> str:
    """Hash of one such close: agent, note, at, and the steps done."""
    return f"{PREFIX}closing:{conversation_id}"


def closing_lease(conversation_id: str) -> str:
    """Held by the one process finishing that close (a few seconds)."""
    return f"{PREFIX}closing-lease:{conversation_id}"

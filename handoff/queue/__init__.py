"""The queue room: every conversation's desk state in Redis and each change of it as one atomic step.

- keys.py        every Redis key of the desk (prefix `shopdesk:desk:`)
- state.py       `ConversationState` (bot → queued → agent → bot) and the record kept per conversation
- desk_queue.py  `DeskQueue`: the Lua scripts (enqueue with its caps, claim, release, grace expiry, close, leave)
"""

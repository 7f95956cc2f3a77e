"""The work room: what the desk does with a conversation, assembled in desk.py.

- desk.py            `HandoffDesk`, assembled from the parts below
- intake.py          the router's `Desk`: handoffs in, customer messages while queued or with an agent
- agent_actions.py   claim, write, release, close
- views.py           what the console reads (queue snapshot, one conversation)
- sweeper.py         the background round: agents away, long waits, silent customers, unfinished closes
- notices.py         what customers and agents hear when the queue moves
- events.py          live events for the consoles (Redis pub/sub)
- presence.py, typing.py, transfer.py, notes.py   working together
- records.py         the `handoffs` rows and what the agent reads from SQL
- customer.py        the console's customer column (earlier conversations, ratings)
- starts.py          when conversations start (for the reports)
- replies.py         the shop's canned replies (replies.yml)
- business_hours.py  `BUSINESS_HOURS` / `BUSINESS_HOLIDAYS`: when agents are there
"""

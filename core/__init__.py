"""What the gateway (`bot/`), the desk (`handoff/`) and the assistant (`actions/`) share; imports neither side.

- contract.py        the languages, message shapes, the handoff payload and its priorities, the protocols each side
                     implements (`Channel`, `Delivery`, `Desk`, `BotHandback`, `BotTrigger`) with their exceptions
- texts.py           every customer-facing text of the gateway and the desk, German and English
- attachments.py     files agents and customers send: checked by their bytes, kept 0600, served by token
- client_address.py  the client behind a request (`TRUSTED_PROXIES`), and its keyed form for limits
- backoff.py         the doubling wait every retry and background loop shares
- counters.py        fixed-window counters (messages a minute), in Redis or in one process's memory
- periodic.py        the one loop of every periodic background job, and the Redis lease for one-process jobs
- clock.py           aware UTC times (`utcnow`, `as_utc` for what SQLite hands back naive, `iso`)
- fanout.py          one Redis pub/sub channel shared by every gateway process
- shutdown.py        stopping background work within a bound
- request_body.py    the JSON body of an API request ({} when none, None when not JSON)
"""

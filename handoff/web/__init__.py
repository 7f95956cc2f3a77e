"""The web room: the desk's face to agents and supervisors.

- app.py         `setup_handoff`: the desk's routes and background tasks on the gateway's application
- api.py         `/api/handoff/…`, `/api/conversations/…`, `/agent/ws`, the console page `/agent`
- team.py        notes, transfer, presence, canned replies, attachments, the customer column
- complaints.py  `/api/complaints…`: the complaint lifecycle, the customer told
- reports.py     `/reports` and `/api/reports/…` (supervisors only)
- access.py      which conversations an account may read
- auth.py        `AGENT_TOKENS` → accounts (salted scrypt), bearer checks
- throttle.py    wrong tokens per client address
- static/        the console, the reports page, their scripts and styles
"""

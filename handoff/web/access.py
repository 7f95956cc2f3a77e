"""Which conversations an account may read (the roles of AGENT_TOKENS).

A supervisor reads every conversation. An agent reads only conversations that reached the desk
and concern them:
- queued ones (any agent may pick them up, so any agent may look first);
- the ones they hold now;
- the ones they closed (the `handoffs` row of a finished stay names them);
- the ones whose last stay at the desk ended before any agent claimed them (the customer left
  the queue or went silent): every agent could read them while they waited, and nobody owns them;
- the customer's earlier conversations shown in the customer column of one they hold (those
  sharing an order number with it through a complaint, as handoff.work.customer finds them).
A conversation a colleague holds, one a colleague closed, and one that only ever spoke with the
bot are refused. Writing (reply, release, close, transfer, attachments) needs holding the
conversation, which handoff.queue.desk_queue checks atomically; notes and complaints need reading.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from db.models import Complaint, Handoff
from handoff.queue.state import ConversationState
from handoff.web.auth import AgentAuth, Role
from handoff.work.parts import DeskParts


@dataclass(frozen=True)
class Refusal:
    """Why an agent may not read a conversation: `reason` is `not_at_desk` or `not_yours`."""

    reason: str
    detail: str
    state: str
    owner: str | None = None


class DeskAccess:
    def __init__(self, parts: DeskParts, auth: AgentAuth) -> None:
        self._queue = parts.queue
        self._auth = auth
        self._sessionmaker = parts.sessionmaker

    async def may_read(self, conversation_id: str, agent: str) -> bool:
        return await self.refusal(conversation_id, agent) is None

    async def refusal(self, conversation_id: str, agent: str) -> Refusal | None:
        """None when `agent` may read (and annotate) the conversation, else why not."""
        if self._auth.role_of(agent) is Role.supervisor:
            return None
        state, owner, _channel = await self._queue.holder(conversation_id)
        if state is ConversationState.queued or (state is ConversationState.agent and owner == agent):
            return None
        if (await self._closed_by(conversation_id, agent) or await self._left_unclaimed(conversation_id)
                or await self._earlier_of_held(conversation_id, agent)):
            return None
        if state is ConversationState.agent:
            return Refusal("not_yours", f"{owner} has this conversation; an agent reads only queued conversations, "
                           "their own and the ones they closed (a supervisor reads every one)", state.value, owner)
        return Refusal("not_at_desk", "this conversation is not at the desk for you: an agent reads only queued "
                       "conversations, their own and the ones they closed (a supervisor reads every one)", state.value)

    async def _closed_by(self, conversation_id: str, agent: str) -> bool:
        async with self._sessionmaker() as session:
            found = await session.scalar(select(Handoff.id).where(
                Handoff.conversation_id == conversation_id, Handoff.agent_id == agent, Handoff.closed_at.is_not(None),
            ).limit(1))
        return found is not None

    async def _left_unclaimed(self, conversation_id: str) -> bool:
        async with self._sessionmaker() as session:
            last = (await session.execute(select(Handoff.agent_id, Handoff.abandoned_at).where(
                Handoff.conversation_id == conversation_id, Handoff.closed_at.is_not(None),
            ).order_by(Handoff.id.desc()).limit(1))).first()
        return last is not None and last.agent_id is None and last.abandoned_at is not None

    async def _earlier_of_held(self, conversation_id: str, agent: str) -> bool:
        held = await self._queue.assigned(agent)
        if not held:
            return False
        orders = {c.order_number for c in held if c.order_number}
        async with self._sessionmaker() as session:
            orders |= {o for o in (await session.scalars(select(Complaint.order_number).where(
                Complaint.conversation_id.in_([c.conversation_id for c in held]), Complaint.order_number.is_not(None),
            ))).all() if o}
            if not orders:
                return False
            found = await session.scalar(select(Complaint.id).where(
                Complaint.conversation_id == conversation_id, Complaint.order_number.in_(orders),
            ).limit(1))
        return found is not None

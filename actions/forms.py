"""A FormValidationAction that may also set slots outside the form's required slots.

rasa-sdk returns only the events of required slots; our forms keep notes next to them
(how often a rating was asked, that the customer declined, that an order number was skipped),
which `required_slots` reads to end or shorten the form.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict


class FormValidationWithNotes(FormValidationAction):
    note_slots: tuple[str, ...] = ()

    @abstractmethod
    def name(self) -> str:
        # Abstract, so that the action server does not register this base class as an action.
        ...

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        before: dict[str, Any] = {name: tracker.get_slot(name) for name in self.note_slots}
        events = await super().run(dispatcher, tracker, domain)
        # super().run() wrote the extracted notes into tracker.slots; report the changed ones.
        notes = [SlotSet(name, tracker.slots.get(name)) for name in self.note_slots
                 if tracker.slots.get(name) != before[name]]
        return notes + events

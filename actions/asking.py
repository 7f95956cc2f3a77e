"""A form's question (Rasa's `action_ask_<slot>`): it says something in the customer's language and
sets no slot. The subclasses say what; the asking, in the language of the conversation, is here."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.language import language_of, pick


class Question(Action):
    @abstractmethod
    def name(self) -> str:
        # Abstract, so that the action server registers only the questions, not their bases.
        ...

    @abstractmethod
    def ask(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> None: ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        self.ask(dispatcher, tracker, language_of(tracker))
        return []


class SkippableQuestion(Question):
    """Text `question` of the per-language table `texts`, with a button (text `skip`) to go on without."""

    texts: ClassVar[dict[str, dict[str, str]]]
    question: ClassVar[str]
    skip: ClassVar[str]

    def ask(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> None:
        dispatcher.utter_message(text=pick(self.texts, self.question, lang), buttons=[skip_button(self.texts[self.skip][lang])])


def skip_button(title: str) -> dict[str, str]:
    """The button that answers a question with "no" (the forms take /deny as skipping the slot)."""
    return {"title": title, "payload": "/deny"}

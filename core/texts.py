"""What the gateway and the desk tell customers (and the system lines agents see), in German and
English, opening hours and times of day as customers read them: the one home of the process's
wording (the assistant's own is in domain.yml)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from core.contract import DEFAULT_LANGUAGE, LANGUAGES

_TEXTS: dict[str, dict[str, str]] = {
    "too_long": {
        "de": "Deine Nachricht ist zu lang (höchstens {limit} Zeichen). Bitte schick sie kürzer oder in Teilen.",
        "en": "Your message is too long (at most {limit} characters). Please send it shorter or in parts.",
    },
    "rate_limited": {
        "de": "Du schreibst gerade sehr schnell. Bitte warte eine Minute, dann geht es weiter.",
        "en": "You are sending messages very quickly. Please wait a minute, then we'll continue.",
    },
    "complaint_resolved": {
        "de": "Neuigkeiten zu deiner Reklamation {reference}: Sie ist erledigt. {resolution}",
        "en": "News about your complaint {reference}: it has been resolved. {resolution}",
    },
    "complaint_rejected": {
        "de": "Neuigkeiten zu deiner Reklamation {reference}: Wir können ihr leider nicht entsprechen. {resolution}",
        "en": "News about your complaint {reference}: unfortunately we cannot uphold it. {resolution}",
    },
    "choose": {  # the label of a list of choices (WhatsApp shows a list behind one button)
        "de": "Auswählen",
        "en": "Choose",
    },
    "no_answer": {  # the assistant's turn produced no reply (a failed custom action)
        "de": "Entschuldige, da ist bei mir gerade etwas schiefgegangen. Schreib mir deine Nachricht bitte noch einmal.",
        "en": "Sorry, something went wrong on my side just now. Please send me your message again.",
    },
    "not_delivered": {  # a system line for the agent under messages a channel could not deliver
        "de": "Nicht zugestellt: {error}",
        "en": "Not delivered: {error}",
    },
    "erased": {  # a system line for the agent whose conversation the customer had erased
        "de": "Der Kunde hat die Löschung seiner Daten verlangt: das Gespräch wurde geschlossen und gelöscht.",
        "en": "The customer asked for their data to be erased: the conversation was closed and erased.",
    },
    "delay": {
        "de": "Einen Moment bitte, ich bin gleich für dich da.",
        "en": "One moment please, I'll be right with you.",
    },
    "queued": {
        "de": "Ein Mitarbeiter übernimmt gleich. Du bist Nummer {position} in der Warteschlange. {wait}",
        "en": "A member of our team will take over. You are number {position} in the queue. {wait}",
    },
    "wait_estimate": {
        "de": "Geschätzte Wartezeit: {duration}.",
        "en": "Estimated wait: {duration}.",
    },
    "wait_unknown": {
        "de": "Wir melden uns so schnell wie möglich.",
        "en": "We'll be with you as soon as we can.",
    },
    "closed": {
        "de": "Unser Team ist gerade nicht da ({hours}). Wir sind {back} wieder für dich da. "
              "Du bleibst in der Warteschlange (Nummer {position}): schreib uns dein Anliegen hier, "
              "wir lesen es als Erstes.",
        "en": "Our team is away right now ({hours}). We're back {back}. "
              "You stay in the queue (number {position}): leave your message here and we'll read it first.",
    },
    "kept": {
        "de": "Danke, deine Nachricht ist gespeichert und geht an den Mitarbeiter, der dich übernimmt.",
        "en": "Thanks, your message is saved and goes to the team member who takes over.",
    },
    "position": {
        "de": "Du bist jetzt Nummer {position} in der Warteschlange.",
        "en": "You are now number {position} in the queue.",
    },
    "left": {
        "de": "Alles klar, du bist nicht mehr in der Warteschlange. Ich bin wieder für dich da – wie kann ich helfen?",
        "en": "All right, you've left the queue. I'm back with you – how can I help?",
    },
    "timeout": {
        "de": "Leider ist gerade niemand frei. Dein Anliegen ist unter der Nummer {reference} gespeichert, "
              "nichts von dem, was du geschrieben hast, geht verloren. Antworte mit 1 für einen Rückruf "
              "(wir melden uns hier, sobald jemand frei ist – du musst nicht warten), mit 2, um in der "
              "Warteschlange zu bleiben, oder mit „abbrechen“, um zurück zum Assistenten zu gehen.",
        "en": "Sorry, nobody is free right now. Your request is saved under reference {reference}, nothing "
              "you wrote is lost. Reply 1 for a callback (we'll get back to you here as soon as someone is "
              "free – no need to wait), 2 to stay in the queue, or \"never mind\" to go back to the assistant.",
    },
    "callback": {
        "de": "Alles klar: wir melden uns hier bei dir (Nummer {reference}). Du kannst jederzeit noch etwas ergänzen.",
        "en": "Done: we'll get back to you here (reference {reference}). You can add anything at any time.",
    },
    "stay": {
        "de": "Gut, du bleibst in der Warteschlange (Nummer {position}).",
        "en": "Fine, you stay in the queue (number {position}).",
    },
    "agent_back": {
        "de": "Dein Mitarbeiter ist gerade nicht erreichbar. Du bist wieder ganz vorn in der Warteschlange.",
        "en": "Your team member is unavailable right now. You are back at the front of the queue.",
    },
    # Abuse limits (bot/limits.py, the queue caps, silent queue entries): what happened, what to do.
    "too_many_conversations": {
        "de": "Von deinem Internetanschluss wurden gerade sehr viele neue Chats geöffnet. Bitte warte eine Minute, "
              "der Chat verbindet sich dann von selbst wieder.",
        "en": "A lot of new chats were opened from your internet connection just now. Please wait a minute; "
              "the chat will reconnect by itself.",
    },
    "too_many_sockets": {
        "de": "Von deinem Internetanschluss sind schon sehr viele Chatfenster offen. Bitte schließ andere "
              "Chatfenster oder Tabs, der Chat verbindet sich dann von selbst wieder.",
        "en": "Too many chat windows are open from your internet connection. Please close other chat windows "
              "or tabs; the chat will reconnect by itself.",
    },
    "address_rate_limited": {
        "de": "Von deinem Internetanschluss kommen gerade sehr viele Nachrichten. Bitte warte eine Minute und "
              "schick deine Nachricht dann noch einmal.",
        "en": "A lot of messages are coming from your internet connection just now. Please wait a minute, "
              "then send your message again.",
    },
    "queue_full": {
        "de": "Gerade warten leider sehr viele Kunden auf unser Team, deshalb kann ich dich im Moment nicht in "
              "die Warteschlange setzen. Bitte frag in ein paar Minuten noch einmal nach einem Mitarbeiter. "
              "Bis dahin helfe ich dir gern weiter – eine Reklamation kannst du auch direkt hier bei mir "
              "aufgeben, unser Team bearbeitet sie.",
        "en": "Sorry, a lot of customers are waiting for our team right now, so I can't put you in the queue at "
              "the moment. Please ask for a team member again in a few minutes. Until then I'm happy to help – "
              "you can also file a complaint right here with me and our team will handle it.",
    },
    "queue_address_limit": {
        "de": "Von deinem Internetanschluss warten schon {limit} Chats auf unser Team, mehr nehme ich nicht "
              "in die Warteschlange. Bitte schreib dein Anliegen in einen der wartenden Chats oder frag "
              "später noch einmal nach einem Mitarbeiter. Bis dahin helfe ich dir gern weiter.",
        "en": "{limit} chats from your internet connection are already waiting for our team, so I can't add "
              "another one to the queue. Please write your question in one of the waiting chats or ask for a "
              "team member again later. Until then I'm happy to help.",
    },
    "queue_expired": {
        "de": "Da wir eine Weile nichts von dir gehört haben, habe ich dich aus der Warteschlange genommen. "
              "Wenn du noch Hilfe brauchst, schreib mir einfach – ich bin für dich da und hole bei Bedarf "
              "wieder jemanden aus dem Team dazu.",
        "en": "As we haven't heard from you for a while, I've taken you out of the queue. If you still need "
              "help, just write to me – I'm here and will bring in someone from the team again if needed.",
    },
}

_DAYS_SHORT = {
    "de": ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
_WEEKDAYS = {
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}

# Whole messages that mean "I don't want to wait any more" (after dropping fillers and punctuation).
_LEAVE_PHRASES = {
    "never mind", "nevermind", "cancel", "stop waiting", "forget it", "no thanks", "leave the queue",
    "doch nicht", "abbrechen", "vergiss es", "egal", "nicht mehr nötig", "nicht mehr noetig",
    "warteschlange verlassen", "nein danke",
}
_FILLERS = {"ach", "ok", "okay", "oh", "please", "bitte", "dann", "then", "na", "gut", "also", "hm", "hmm", "ja"}


def language(raw: str | None) -> str:
    return raw if raw is not None and raw in LANGUAGES else DEFAULT_LANGUAGE


def text(name: str, lang: str | None, **values: object) -> str:
    texts = _TEXTS[name]
    return texts[language(lang)].format(**values).strip()


def duration(seconds: float, lang: str | None) -> str:
    minutes = round(seconds / 60)
    if language(lang) == "de":
        if minutes < 1:
            return "weniger als eine Minute"
        return "etwa 1 Minute" if minutes == 1 else f"etwa {minutes} Minuten"
    if minutes < 1:
        return "less than a minute"
    return "about 1 minute" if minutes == 1 else f"about {minutes} minutes"


def back_at(when: dt.datetime, now: dt.datetime, lang: str | None) -> str:
    """"on Monday at 8 am", "heute um 8:30 Uhr", … (in `when`'s zone, which the opening hours name)."""
    local_now = now.astimezone(when.tzinfo)
    days = (when.date() - local_now.date()).days
    lang = language(lang)
    clock = _clock(when.hour * 60 + when.minute, lang)
    if lang == "de":
        day = {0: "heute", 1: "morgen"}.get(days, f"am {_WEEKDAYS['de'][when.weekday()]}")
        return f"{day} um {clock} Uhr"
    day = {0: "today", 1: "tomorrow"}.get(days, f"on {_WEEKDAYS['en'][when.weekday()]}")
    return f"{day} at {clock}"


# Opening hours: groups of weekdays (0 = Monday) that share their opening spans (minutes after
# midnight, the end up to 1440), in the order of their first day.
Week = Sequence[tuple[Sequence[int], Sequence[tuple[int, int]]]]


def opening_hours(week: Week | None, zone: str, lang: str | None) -> str:
    """"Mo–Fr 8–18 Uhr, Sa 10–14 Uhr, Zeitzone Berlin", "Mon–Fri 8 am–6 pm, Berlin time"; None: always open."""
    lang = language(lang)
    if week is None:
        return "rund um die Uhr" if lang == "de" else "around the clock"
    groups = ", ".join(f"{_day_runs(days, lang)} {_spans(spans, lang)}" for days, spans in week)
    place = zone.rsplit("/", 1)[-1].replace("_", " ")
    return f"{groups}, Zeitzone {place}" if lang == "de" else f"{groups}, {place} time"


def _day_runs(days: Sequence[int], lang: str) -> str:
    """[0, 1, 2, 3, 4] → "Mo–Fr"; [0, 2, 4] → "Mo, Mi, Fr"; [4, 5, 6, 0] → "Fr–Mo"."""
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    if len(runs) > 1 and runs[0][0] == 0 and runs[-1][-1] == 6:  # a run across Sunday night
        runs[0] = runs.pop() + runs[0]
    names = _DAYS_SHORT[lang]
    return ", ".join(
        f"{names[run[0]]}–{names[run[-1]]}" if len(run) > 2 else ", ".join(names[d] for d in run) for run in runs
    )


def _spans(spans: Sequence[tuple[int, int]], lang: str) -> str:
    if list(spans) == [(0, 1440)]:
        return "ganztägig" if lang == "de" else "all day"
    if lang == "de":
        return " und ".join(f"{_clock(start, lang)}–{_clock(end, lang)}" for start, end in spans) + " Uhr"
    return " and ".join(f"{_clock(start, lang)}–{_clock(end, lang)}" for start, end in spans)


def _clock(minutes: int, lang: str) -> str:
    """A time of day as customers read it: German "8", "8:30", "18"; English "8 am", "8:30 am", "6 pm"."""
    hours, rest = divmod(minutes, 60)
    if lang == "de":
        return f"{hours}:{rest:02d}" if rest else str(hours)
    if hours % 24 == 0 and not rest:
        return "midnight"
    shown = f"{hours % 12 or 12}:{rest:02d}" if rest else str(hours % 12 or 12)
    return f"{shown} {'am' if hours < 12 else 'pm'}"


def _words(message: str) -> list[str]:
    return re.sub(r"[^\wäöüß ]+", " ", message.lower()).split()


def wants_to_leave(message: str) -> bool:
    words = [w for w in _words(message) if w not in _FILLERS]
    return " ".join(words) in _LEAVE_PHRASES


def choice(message: str) -> str | None:
    """The answer to the timeout offer: `callback`, `stay` or None."""
    words = _words(message)
    if words in (["1"], ["rückruf"], ["callback"], ["call", "back"], ["call", "me"], ["ruf", "mich", "an"]):
        return "callback"
    if words in (["2"], ["warten"], ["wait"], ["weiter", "warten"], ["keep", "waiting"], ["stay"]):
        return "stay"
    return None

"""WhatsApp quick replies through Twilio Content templates.

When TWILIO_CONTENT_RATING_SID / TWILIO_CONTENT_YESNO_SID are set, a message whose buttons are the
star rating (five `/give_rating` payloads) or a yes/no question (`/affirm`, `/deny`) goes out as
that Content template with its text as variable 1 (`ContentSid` + `ContentVariables`) instead of a
numbered list. Approved templates may also be sent outside WhatsApp's 24-hour window, so a rating
request after a long agent conversation still arrives.

The template's quick-reply ids should be the choice numbers (`1`…`5` for the stars, `1` yes and
`2` no), as a typed "4" is read; the webhook's `ButtonPayload` then maps back to the offered
button's payload (a payload equal to the Rasa payload itself, or a `ButtonText` equal to a title,
works too).
"""

from __future__ import annotations

from bot.channels.whatsapp.settings import WhatsAppSettings
from core.contract import Outbound

YES_NO = ("/affirm", "/deny")


def is_rating(message: Outbound) -> bool:
    return len(message.buttons) == 5 and all(b.payload.startswith("/give_rating") for b in message.buttons)


def is_yes_no(message: Outbound) -> bool:
    return tuple(b.payload for b in message.buttons) == YES_NO


def content_template(message: Outbound, settings: WhatsAppSettings) -> dict[str, object] | None:
    """`{"content_sid", "variables"}` when the message is to go out as a quick-reply template."""
    sid = ""
    if is_rating(message):
        sid = settings.twilio_content_rating_sid
    elif is_yes_no(message):
        sid = settings.twilio_content_yesno_sid
    if not sid:
        return None
    return {"content_sid": sid, "variables": {"1": message.text or ""}}

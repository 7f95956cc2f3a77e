"""The label the console shows for a customer ("Kunde 3F2A"): four hex digits of a hash of the
conversation id, so a web chat id (which carries the customer's session) never reaches a screen."""

from __future__ import annotations

import hashlib

LABEL_DOMAIN = b"shopdesk customer label\x00"


def customer_label(conversation_id: str) -> str:
    return hashlib.sha256(LABEL_DOMAIN + conversation_id.encode()).hexdigest()[:4].upper()

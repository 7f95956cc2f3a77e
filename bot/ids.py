"""Conversation ids that reveal nothing: a keyed hash (HMAC-SHA256 with SHOPDESK_SECRET) of
what names the customer on a channel (a WhatsApp number, a web chat session id).

Without the secret a phone number cannot be found again from its id by trying all numbers, and
the session id (the web customer's credential) never appears where the id is shown or logged.
"""

from __future__ import annotations

import hashlib
import hmac

ID_HEX_CHARS = 24


def keyed_id(prefix: str, secret: str, value: str) -> str:
    digest = hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()
    return prefix + digest[:ID_HEX_CHARS]

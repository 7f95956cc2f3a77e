"""The shop's facts (shop.yml) and the FAQ answers rendered from them in the customer's language.

shop.yml is re-read only when its modification time changes, so an edit shows in the next answer
without a restart, and a normal request costs one stat() call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SHOP_FILE = Path(os.environ.get("SHOP_FILE", Path(__file__).resolve().parent.parent / "shop.yml"))

# Country words customers use, mapped to the keys of shop.yml's shipping table. DIET's entity
# synonyms cover the trained spellings; this table also catches what the model missed.
COUNTRY_WORDS: dict[str, str] = {
    "deutschland": "DE", "germany": "DE", "de": "DE", "dtl": "DE", "brd": "DE",
    "österreich": "AT", "oesterreich": "AT", "osterreich": "AT", "austria": "AT", "at": "AT", "ö": "AT",
    "schweiz": "CH", "switzerland": "CH", "ch": "CH", "suisse": "CH", "svizzera": "CH", "swiss": "CH",
    "eu": "EU", "europa": "EU", "europe": "EU", "ausland": "EU", "abroad": "EU",
    "frankreich": "EU", "france": "EU", "italien": "EU", "italy": "EU", "niederlande": "EU",
    "netherlands": "EU", "holland": "EU", "belgien": "EU", "belgium": "EU", "spanien": "EU", "spain": "EU",
    "polen": "EU", "poland": "EU", "luxemburg": "EU", "luxembourg": "EU", "dänemark": "EU", "denmark": "EU",
    "tschechien": "EU", "czechia": "EU", "slowenien": "EU", "slovenia": "EU", "südtirol": "EU",
}


@dataclass
class _Cached:
    mtime: float
    data: dict[str, Any]


_cache: dict[Path, _Cached] = {}


def load(path: Path = SHOP_FILE) -> dict[str, Any]:
    """shop.yml as a dict, parsed again only after the file changed."""
    mtime = path.stat().st_mtime
    cached = _cache.get(path)
    if cached is None or cached.mtime != mtime:
        cached = _Cached(mtime, yaml.safe_load(path.read_text(encoding="utf-8")))
        _cache[path] = cached
    return cached.data


def money(amount: float, currency: str, lang: str, shop: dict[str, Any]) -> str:
    """12.9, CHF → "12,90 CHF" (de) / "CHF 12.90" (en); EUR uses the € sign."""
    symbol = shop.get("currency_symbols", {}).get(currency, currency)
    if lang == "de":
        return f"{amount:.2f}".replace(".", ",") + f" {symbol}"
    return f"{symbol}{amount:.2f}" if symbol == "€" else f"{symbol} {amount:.2f}"


def country_code(value: str | None) -> str | None:
    """A country entity value or word ("Schweiz", "CH") → key of the shipping table, or None."""
    if not value:
        return None
    value = value.strip().lower()
    if value.upper() in ("DE", "AT", "CH", "EU"):
        return value.upper()
    return COUNTRY_WORDS.get(value)


def country_in_text(text: str) -> str | None:
    """The first country named in free text, for when NLU found no entity."""
    for word in text.lower().replace("?", " ").replace(",", " ").replace(".", " ").split():
        # Two-letter codes only in capitals in the original text: "at"/"de" are common words.
        if len(word) <= 2:
            continue
        code = COUNTRY_WORDS.get(word)
        if code:
            return code
    for token in text.split():
        token = token.strip("?,.!")
        if token in ("DE", "AT", "CH", "EU"):
            return token
    return None


_SHIPPING_TEXT = {
    "country": {
        "de": "Versand {to}: {cost}, ab {free} Bestellwert versandkostenfrei. Lieferzeit {days} Werktage mit {carrier}.",
        "en": "Shipping {to}: {cost}, free from an order value of {free}. Delivery takes {days} working days with {carrier}.",
    },
    "overview_head": {
        "de": "Unsere Versandkosten ({carrier}, in die Schweiz mit {carrier_ch}):",
        "en": "Our shipping costs ({carrier}, to Switzerland with {carrier_ch}):",
    },
    "overview_line": {
        "de": "• {name}: {cost}, gratis ab {free}, {days} Werktage",
        "en": "• {name}: {cost}, free from {free}, {days} working days",
    },
    "express": {
        "de": "Expressversand innerhalb Deutschlands: {cost} Aufpreis.",
        "en": "Express delivery within Germany: {cost} extra.",
    },
}


def shipping_answer(lang: str, country: str | None, shop: dict[str, Any] | None = None) -> str:
    """Costs, free-shipping threshold, carrier and delivery time: for one country or all of them."""
    shop = shop or load()
    shipping = shop["shipping"]
    countries = shipping["countries"]

    def facts(code: str) -> dict[str, str]:
        c = countries[code]
        return {
            "name": c["name"][lang],
            "to": c["to"][lang],
            "cost": money(c["cost"], c["currency"], lang, shop),
            "free": money(c["free_from"], c["currency"], lang, shop),
            "days": c["delivery_days"],
            "carrier": shipping.get("carriers_by_country", {}).get(code, shipping["carrier"]),
        }

    if country in countries:
        text = _SHIPPING_TEXT["country"][lang].format(**facts(country))
        note = countries[country].get("note")
        if note:
            text += " " + note[lang]
        if country in shipping["express"]["available_in"]:
            express = shipping["express"]
            text += " " + _SHIPPING_TEXT["express"][lang].format(
                cost=money(express["cost"], express["currency"], lang, shop))
        return text
    lines = [_SHIPPING_TEXT["overview_head"][lang].format(
        carrier=shipping["carrier"], carrier_ch=shipping.get("carriers_by_country", {}).get("CH", shipping["carrier"]))]
    lines += [_SHIPPING_TEXT["overview_line"][lang].format(**facts(code)) for code in countries]
    return "\n".join(lines)


_RETURNS_TEXT = {
    "de": ("Du kannst Artikel innerhalb von {days} Tagen nach Erhalt zurückschicken. {label} "
           "So geht's: Retoure unter {url} anmelden, Etikett ausdrucken, Paket abgeben. "
           "Das Geld ist spätestens {refund} Tage nach Eingang der Rücksendung zurück. {exceptions}"),
    "en": ("You can return items within {days} days of receiving them. {label} "
           "How it works: register the return at {url}, print the label, drop off the parcel. "
           "You get your money back at the latest {refund} days after we receive it. {exceptions}"),
}
_LABEL_TEXT = {
    "free": {
        "de": "Das Rücksendeetikett ist aus {countries} kostenlos, aus anderen Ländern kostet es {cost}.",
        "en": "The return label is free from {countries}; from other countries it costs {cost}.",
    },
    "paid": {
        "de": "Die Rücksendung kostet {cost}.",
        "en": "A return costs {cost}.",
    },
}


def returns_answer(lang: str, shop: dict[str, Any] | None = None) -> str:
    shop = shop or load()
    r = shop["returns"]
    cost = money(r["label_cost_other"], "EUR", lang, shop)
    if r.get("free_label"):
        names = [shop["shipping"]["countries"][c]["name"][lang] for c in r.get("free_label_countries", [])]
        joiner = " und " if lang == "de" else " and "
        label = _LABEL_TEXT["free"][lang].format(countries=joiner.join(names), cost=cost)
    else:
        label = _LABEL_TEXT["paid"][lang].format(cost=cost)
    return _RETURNS_TEXT[lang].format(
        days=r["window_days"], label=label, url=r["start_url"], refund=r["refund_days"],
        exceptions=r.get("exceptions", {}).get(lang, ""),
    ).strip()


_PAYMENT_TEXT = {
    "de": "Du kannst bei uns so bezahlen: {methods}. Kauf auf Rechnung geht bis {limit}.",
    "en": "You can pay with: {methods}. Paying by invoice is possible up to {limit}.",
}


def payment_answer(lang: str, shop: dict[str, Any] | None = None) -> str:
    shop = shop or load()
    p = shop["payment"]
    methods = ", ".join(m[lang] for m in p["methods"])
    return _PAYMENT_TEXT[lang].format(methods=methods, limit=money(p["invoice_limit"], p["invoice_currency"], lang, shop))


_HOURS_TEXT = {
    "de": "Unser Kundenservice ist erreichbar: {hours} (Zeitzone {tz}). Hier im Chat bin ich rund um die Uhr für dich da.",
    "en": "Our customer service is available {hours} ({tz} time). Here in the chat I'm available around the clock.",
}


def opening_hours_answer(lang: str, shop: dict[str, Any] | None = None) -> str:
    shop = shop or load()
    cs = shop["customer_service"]
    joiner = "; "
    if lang == "de":
        hours = joiner.join(f"{h['days']['de']} {h['from']}–{h['to']} Uhr" for h in cs["hours"])
    else:
        hours = joiner.join(f"{h['days']['en']} {h['from']}–{h['to']}" for h in cs["hours"])
    return _HOURS_TEXT[lang].format(hours=hours, tz=cs["timezone"])


_CONTACT_TEXT = {
    "de": ("So erreichst du uns: E-Mail {email}, Telefon {phone} (aus der Schweiz: {phone_ch}), "
           "WhatsApp {whatsapp}. Post: {address}. Oder schreib einfach hier – ich verbinde dich auch gern mit jemandem aus dem Team."),
    "en": ("You can reach us by e-mail at {email}, phone {phone} (from Switzerland: {phone_ch}), "
           "WhatsApp {whatsapp}. Postal address: {address}. Or just write here – I can also connect you with someone from the team."),
}


def contact_answer(lang: str, shop: dict[str, Any] | None = None) -> str:
    shop = shop or load()
    return _CONTACT_TEXT[lang].format(**shop["contact"])


def tracking_url(carrier: str | None, tracking_number: str | None, shop: dict[str, Any] | None = None) -> str | None:
    """The carrier's tracking page for a parcel, when we know the carrier's URL pattern."""
    if not carrier or not tracking_number:
        return None
    template = (shop or load()).get("tracking_urls", {}).get(carrier)
    return template.format(tracking=tracking_number) if template else None

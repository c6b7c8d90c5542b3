"""Customer identifiers: normalisation, junk detection and keyed hashing (events.md, Identity).

Raw identifiers never reach analytics tables: every identifier is normalised, then replaced by
``<kind>:<hmac>`` where the HMAC-SHA256 key comes from the settings (``OMNICX_PII_KEY``, else the
generated ``$OMNICX_HOME/pii.key``: ``schemas.settings.with_pii_key``; there is no built-in key).
The kind stays readable so that an analyst can tell a phone link from an e-mail link without the
value.
"""

from __future__ import annotations

import hashlib
import hmac
import re

IDENTIFIER_KINDS = (
    "customer_id",
    "account_id",
    "phone",
    "email",
    "chat_visitor_id",
    "social_handle",
)

_JUNK = {"", "anonymous", "unknown", "null", "none", "-1", "n/a", "na", "undefined"}
_NOT_DIGITS = re.compile(r"[^\d]")
# Zeros and punctuation only ("0", "000-000", "00 00 00 00 00"): a placeholder, not a number.
_ZERO_NUMBER = re.compile(r"[\W_]*0[\W0_]*")


def normalise_phone(raw: str, default_country_code: str = "33") -> str | None:
    """E.164 (``+33612345678``) or None when it cannot be a phone number."""
    # "+44 (0)20 ..." writes the national trunk prefix in brackets: it is not dialled after the
    # country code, so it is not part of the E.164 number.
    text = raw.strip().replace("(0)", "")
    digits = _NOT_DIGITS.sub("", text)
    if not digits:
        return None
    if text.startswith("+"):
        pass
    elif digits.startswith("00"):
        digits = digits[2:]
    elif digits.startswith("0"):
        digits = default_country_code + digits[1:]
    if not 8 <= len(digits) <= 15:
        return None
    return "+" + digits


def normalise(kind: str, raw: object) -> str | None:
    """The canonical form of an identifier, or None for junk that must never link people."""
    if raw is None:
        return None
    text = str(raw).strip()
    if text.lower() in _JUNK or _ZERO_NUMBER.fullmatch(text):
        return None
    if kind == "phone":
        value = normalise_phone(text)
        if value is None or set(value[1:]) == {"0"}:
            return None
        return value
    if kind == "email":
        value = text.lower()
        return value if "@" in value else None
    if kind == "social_handle":
        return text.lower().lstrip("@") or None
    return text


def hash_identifier(kind: str, value: str, key: str) -> str:
    """``kind:hex`` keyed hash of an already normalised identifier."""
    if not key:
        # An empty key is a known key: the hashes of a small space (phones) would be reversible.
        raise ValueError("no personal-data key: resolve it with schemas.settings.with_pii_key")
    digest = hmac.new(key.encode(), f"{kind}\x1f{value}".encode(), hashlib.sha256).hexdigest()
    return f"{kind}:{digest[:32]}"


def hashed_identifiers(customer: dict[str, object], key: str) -> list[str]:
    """Sorted keyed hashes of the usable identifiers of a ``customer`` object (junk dropped)."""
    out = []
    for kind in IDENTIFIER_KINDS:
        value = normalise(kind, customer.get(kind))
        if value is not None:
            out.append(hash_identifier(kind, value, key))
    return sorted(out)

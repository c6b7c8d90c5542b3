"""Signals kept from free text once the text itself is dropped (events.md, Personal data).

Only the cancellation-intent signal exists so far: the churn score and the contact record need
it, and nothing else in the text may reach the analytics tables unless an operator opts in.
"""

from __future__ import annotations

import re
import unicodedata

# Matched on whole words of the case- and accent-folded text, so that "Résilier", "RESILIER" and
# "resilier" all count while "resilient" or "précancel" do not. "cancel" covers its inflections
# and the noun ("cancelled", "cancellation"); the French verb covers its usual forms.
_CANCELLATION = re.compile(
    r"\b(?:"
    r"cancel\w*"
    r"|close\s+my\s+accounts?"
    r"|resili(?:er|e|es|ez|ation|ations)"
    r"|unsubscrib(?:e|ed|es|ing)"
    r"|terminate\s+my\s+contracts?"
    r")\b"
)


def fold_text(text: str) -> str:
    """Lower-case ``text`` and strip its accents (``Résilier`` -> ``resilier``)."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def has_cancellation_intent(text: str | None) -> bool:
    """Whether a message or survey comment expresses the wish to cancel or leave."""
    if not text:
        return False
    return _CANCELLATION.search(fold_text(text)) is not None

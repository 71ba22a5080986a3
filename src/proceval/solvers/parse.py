"""Reading answers out of generated text. Unclear answers give ``None`` (recorded as ``invalid``), never a guess.

Choice answers are found, in this order of trust: an explicit ``Answer: X`` / ``the answer is X`` (the
last one wins, as chain-of-thought text may mention options before concluding); a reply that is only a
label (``B``, ``(B)``, ``B.``); a reply that starts with a label followed by punctuation (``B) yes``); a
reply that names exactly one option's text. Ratings accept ``Answer: 4``, ``4/5``, ``4 out of 5``, a
single in-range number, or exactly one scale label.
"""

from __future__ import annotations

import re

_EXPLICIT = re.compile(
    r"(?:final\s+answer|answer|choice|option|rating)\s*(?:is|would be|:|=|-)?\s*[:\-]?\s*"
    r"[\(\[\*\"']*\s*(?P<value>[^\n\)\]\*\"'.,;]+)",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"(?<![\d.])(-?\d+)(?![\d.]*\d)")


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", text.lower())).strip()


def _match_label(value: str, labels: list[str], *, exact_case: bool = False) -> int | None:
    """``value`` is a bare label (letter) possibly wrapped in brackets/punctuation.

    ``exact_case`` refuses a lower-case letter ("a" is an article when more words follow).
    """
    token = value.strip().strip("()[]*\"'.:,;").strip()
    for index, label in enumerate(labels):
        if token == label:
            return index
        if not exact_case and len(label) == 1 and len(token) == 1 and token.upper() == label.upper():
            return index
    return None


def _match_text(value: str, texts: list[str]) -> int | None:
    """Exactly one option text occurs in ``value`` (as whole words); longest texts win over their substrings."""
    norm = f" {_norm(value)} "
    found = [i for i, t in enumerate(texts) if _norm(t) and f" {_norm(t)} " in norm]
    # drop options whose text is contained in another found option's text ("yes" inside "yes, always")
    found = [i for i in found if not any(j != i and _norm(texts[i]) in _norm(texts[j]) for j in found)]
    return found[0] if len(found) == 1 else None


def parse_choice(text: str, labels: list[str], texts: list[str] | None = None) -> int | None:
    """The index of the chosen option (``labels`` and ``texts`` in presentation order), or ``None``."""
    if not text or not text.strip():
        return None
    texts = texts or []
    explicit = list(_EXPLICIT.finditer(text))
    for match in reversed(explicit):
        value = match.group("value")
        words = value.split()
        index = _match_label(words[0], labels, exact_case=len(words) > 1) if words else None
        if index is None and texts:
            index = _match_text(value, texts)
        if index is not None:
            return index
    stripped = text.strip()
    index = _match_label(stripped, labels)
    if index is not None:
        return index
    first = re.match(r"^[\(\[]?\s*([A-Za-z])\s*[\)\].:]", stripped)
    if first:
        # "B) yes" is a label; "a.a" or "a. dog" may not be: a lower-case letter counts only on its own
        more_follows = bool(stripped[first.end():].strip())
        index = _match_label(first.group(1), labels, exact_case=more_follows)
        if index is not None:
            return index
    if texts:
        return _match_text(stripped, texts)
    return None


def parse_rating(text: str, low: int, high: int, labels: dict[str, str] | None = None) -> int | None:
    """The scale point in ``[low, high]`` the text gives, or ``None``."""
    if not text or not text.strip():
        return None

    def ok(value: str) -> int | None:
        try:
            number = int(value)
        except ValueError:
            return None
        return number if low <= number <= high else None

    for match in reversed(list(re.finditer(r"(?:answer|rating|score)\s*(?:is|:|=)?\s*(-?\d+)", text, re.I))):
        if (number := ok(match.group(1))) is not None:
            return number
    for match in reversed(list(re.finditer(r"(-?\d+)\s*(?:/|out of)\s*(\d+)", text, re.I))):
        if int(match.group(2)) == high and (number := ok(match.group(1))) is not None:
            return number
    numbers = {ok(n) for n in _NUMBER.findall(text)}
    numbers.discard(None)
    if len(numbers) == 1:
        return numbers.pop()
    if not numbers and labels:
        points = [p for p, label in labels.items() if f" {_norm(label)} " in f" {_norm(text)} "]
        points = [p for p in points if not any(q != p and _norm(labels[p]) in _norm(labels[q]) for q in points)]
        if len(points) == 1:
            return ok(points[0])
    return None

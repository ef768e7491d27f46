"""The words of a text as both indexes see them: lower case, accents and punctuation gone.

Both engines index these words (not the raw text), so a query finds the same records on PostgreSQL and
SQLite. Runs of single letters are also joined ("B.V." -> "b v bv"), so "bv" finds "Acme B.V.".
"""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"\w+", re.UNICODE)


def text_words(text: str) -> list[str]:
    plain = text or ""
    if not plain.isascii():  # ASCII has no accents to strip; most names are (a big import indexes 400,000)
        plain = unicodedata.normalize("NFKD", plain)
        plain = "".join(char for char in plain if not unicodedata.combining(char))
    words = [word.casefold() for word in WORD.findall(plain)]
    joined: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:
        if len(word) == 1:
            run.append(word)
            continue
        if len(run) > 1:
            joined.append("".join(run))
        run = []
    return words + joined

"""The words of a text as both indexes see them: lower case, accents and punctuation gone.

Both engines index these words (not the raw text), so a query finds the same records on PostgreSQL and
SQLite. Runs of single letters are also joined ("B.V." -> "b v bv"), so "bv" finds "Acme B.V.". A digit is
not a letter: "Studio 7 B.V." is joined to "bv" as well, not "7bv" (until search migration 0004 it was, and
"bv" did not find it).
"""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"\w+", re.UNICODE)


def _plain_words(text: str) -> list[str]:
    plain = text or ""
    if plain.isascii():
        # Most names are ASCII (a big import indexes 400,000): no accents to strip, and lower() is casefold()
        # there and moves no word boundary, so one call for the whole text instead of one per word.
        return WORD.findall(plain.lower())
    plain = unicodedata.normalize("NFKD", plain)
    plain = "".join(char for char in plain if not unicodedata.combining(char))
    return [word.casefold() for word in WORD.findall(plain)]


def _is_letter(word: str) -> bool:
    """A one-character word that may join a run ("b", "v"; not "7")."""
    return len(word) == 1 and word.isalpha()


def text_words(text: str) -> list[str]:
    """What an entry is indexed by: its words, then each run of single letters joined."""
    words = _plain_words(text)
    if 1 not in map(len, words):  # no single characters, nothing to join (most texts)
        return words
    joined: list[str] = []
    run: list[str] = []
    for word in words:
        if _is_letter(word):
            run.append(word)
        elif run:
            if len(run) > 1:
                joined.append("".join(run))
            run = []
    if len(run) > 1:
        joined.append("".join(run))
    return words + joined


def query_words(text: str) -> list[str]:
    """What a query asks for: its words, with letters written together as one ("B.V." -> "bv").

    The index holds the joined word beside the letters, so the joined word alone finds "Acme B.V." and
    "Acme BV" alike, and the query carries no one-letter prefixes, the costliest kind to look up. Letters
    typed apart ("j a smith") stay letters.
    """
    words: list[str] = []
    for chunk in (text or "").split():
        chunk_words = _plain_words(chunk)
        if len(chunk_words) > 1 and all(map(_is_letter, chunk_words)):
            words.append("".join(chunk_words))
        else:
            words.extend(chunk_words)
    return words

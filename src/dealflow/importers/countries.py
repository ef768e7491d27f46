"""Country names in any language Dealflow ships or reads headers in, to ISO 3166 codes, from Babel's CLDR data.

"United States", "Verenigde Staten", "Vereinigte Staaten", "États-Unis" and "Estados Unidos" are all US;
a two-letter code passes through. The names come from the Unicode CLDR (maintained by Babel), not from a
hand list; only the usual abbreviations CLDR does not list as names (USA, UK) are added.
"""

from __future__ import annotations

from functools import lru_cache

from dealflow.importers.values import normalize_name

LANGUAGES = ("en", "nl", "de", "fr", "es")
ABBREVIATIONS = {"usa": "US", "us": "US", "uk": "GB", "holland": "NL", "the netherlands": "NL"}


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    from babel import Locale

    names: dict[str, str] = {}
    for language in LANGUAGES:
        for code, name in Locale(language).territories.items():
            if len(code) == 2 and code.isalpha():
                names.setdefault(normalize_name(name), code)
    for alias, code in ABBREVIATIONS.items():
        names.setdefault(normalize_name(alias), code)
    return names


def country_code(value: str) -> str | None:
    """The ISO code of a country name or code, or None when it names no country."""
    text = str(value or "").strip()
    if len(text) == 2 and text.isalpha() and text.isascii() and text.upper() in _codes():
        return text.upper()
    return _names().get(normalize_name(text))


@lru_cache(maxsize=1)
def _codes() -> frozenset[str]:
    return frozenset(_names().values())

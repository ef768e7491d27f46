"""How alike two organisations or persons are, without the database (the selectors fetch candidates).

- Names lose case, accents, punctuation and legal forms: "Acme B.V.", "ACME BV" and "Acme" are one name.
- Websites and e-mail addresses compare by domain (www. and the scheme dropped; free-mail domains never
  make two people alike).
- Phone numbers compare in E.164 (``phonenumbers``), read in the organisation's country when they carry
  no country code.
- Names that differ a little ("Acme Industries" / "Acme Industires") compare with ``rapidfuzz``'s
  token-sort ratio; at or above ``FUZZY_THRESHOLD`` they count as alike.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from rapidfuzz import fuzz

FUZZY_THRESHOLD = 88
LEGAL_FORMS = {
    "bv", "nv", "vof", "cv", "bvba", "sprl", "gmbh", "ag", "kg", "ohg", "ug", "ev", "ltd", "limited", "plc",
    "llp", "inc", "incorporated", "llc", "corp", "corporation", "co", "company", "sa", "sas", "sarl", "srl",
    "spa", "ab", "as", "oy", "aps", "holding",
}  # fmt: skip
FREE_MAIL = {"gmail.com", "googlemail.com", "hotmail.com", "outlook.com", "live.com", "yahoo.com", "icloud.com",
             "me.com", "aol.com", "gmx.de", "gmx.net", "web.de", "proton.me", "protonmail.com", "ziggo.nl",
             "kpnmail.nl", "xs4all.nl", "hetnet.nl", "planet.nl", "home.nl"}  # fmt: skip
_WORD = re.compile(r"\w+", re.UNICODE)


def _words(text: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", text or "")
    plain = "".join(char for char in plain if not unicodedata.combining(char))
    words = [word.casefold() for word in _WORD.findall(plain)]
    joined: list[str] = []  # "b v" (from "B.V.") -> "bv"
    run: list[str] = []
    for word in [*words, ""]:
        if len(word) == 1:
            run.append(word)
            continue
        joined.extend(["".join(run)] if len(run) > 1 else run)
        run = []
        if word:
            joined.append(word)
    return joined


def name_normalized(name: str) -> str:
    """A company name without case, accents, punctuation and legal forms: "Acme B.V." -> "acme"."""
    words = _words(name)
    core = [word for word in words if word not in LEGAL_FORMS]
    return " ".join(core or words)


def person_name_normalized(first_name: str, last_name: str) -> str:
    return " ".join(_words(f"{first_name} {last_name}"))


def domain_of(text: str) -> str:
    """The domain of a website or an e-mail address: "https://www.acme.nl/x" and "jan@acme.nl" -> "acme.nl"."""
    value = (text or "").strip().casefold()
    if "@" in value:
        value = value.rsplit("@", 1)[1]
    value = re.sub(r"^[a-z]+://", "", value).split("/", 1)[0].split(":", 1)[0]
    return value.removeprefix("www.")


def company_domain_of(email: str) -> str:
    """The e-mail domain when it names a company (not gmail.com and the like), else ""."""
    domain = domain_of(email)
    return "" if domain in FREE_MAIL else domain


def phone_e164(phone: str, *, country: str = "") -> str:
    """The number in E.164 ("+31612345678"), read in ``country`` when it has no +code; "" when unreadable."""
    text = (phone or "").strip()
    if not text:
        return ""
    try:
        number = phonenumbers.parse(text, (country or "NL").upper())
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def names_alike(first: str, second: str) -> int:
    """0-100: how alike two normalised names are (100 = the same words in any order)."""
    if not first or not second:
        return 0
    return round(fuzz.token_sort_ratio(first, second))

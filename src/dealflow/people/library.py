"""Ready questions in English and Dutch. A survey stores the key; readers see the text in their language.

The texts live here rather than in the .po catalogue so a question reads the same for every reader of
a language even where the catalogue is incomplete, and so a stored survey keeps its meaning when a
translation is edited.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dealflow.people.models import QuestionKind

ENPS_KEY = "enps"


@dataclass(frozen=True)
class LibraryQuestion:
    key: str
    kind: str
    topic: str
    text: dict[str, str]
    choices: dict[str, list[str]] = field(default_factory=dict)


LIBRARY: tuple[LibraryQuestion, ...] = (
    LibraryQuestion(
        key=ENPS_KEY,
        kind=QuestionKind.ENPS,
        topic="enps",
        text={
            "en": "How likely is it that you would recommend this company as a place to work?",
            "nl": "Hoe waarschijnlijk is het dat je dit bedrijf aanbeveelt als werkgever?",
        },
    ),
    LibraryQuestion(
        key="workload",
        kind=QuestionKind.AGREEMENT,
        topic="workload",
        text={"en": "My workload is manageable.", "nl": "Mijn werkdruk is goed te behappen."},
    ),
    LibraryQuestion(
        key="workload_hours",
        kind=QuestionKind.RATING,
        topic="workload",
        text={
            "en": "How sustainable was your pace of work over the last weeks?",
            "nl": "Hoe vol te houden was je werktempo de afgelopen weken?",
        },
    ),
    LibraryQuestion(
        key="recognition",
        kind=QuestionKind.AGREEMENT,
        topic="recognition",
        text={
            "en": "I receive recognition when I do good work.",
            "nl": "Ik krijg erkenning als ik goed werk lever.",
        },
    ),
    LibraryQuestion(
        key="tools",
        kind=QuestionKind.AGREEMENT,
        topic="tools",
        text={
            "en": "I have the tools I need to sell well.",
            "nl": "Ik heb de hulpmiddelen die ik nodig heb om goed te verkopen.",
        },
    ),
    LibraryQuestion(
        key="tools_blocker",
        kind=QuestionKind.CHOICE,
        topic="tools",
        text={
            "en": "Which tool slows you down the most?",
            "nl": "Welk hulpmiddel houdt je het meest op?",
        },
        choices={
            "en": ["The CRM", "E-mail", "Quotes and contracts", "Calendar and scheduling", "None of these"],
            "nl": ["Het CRM", "E-mail", "Offertes en contracten", "Agenda en planning", "Geen van deze"],
        },
    ),
    LibraryQuestion(
        key="manager_support",
        kind=QuestionKind.AGREEMENT,
        topic="manager support",
        text={
            "en": "My manager helps me reach my targets.",
            "nl": "Mijn leidinggevende helpt me mijn targets te halen.",
        },
    ),
    LibraryQuestion(
        key="growth",
        kind=QuestionKind.AGREEMENT,
        topic="growth",
        text={
            "en": "I see opportunities to learn and grow here.",
            "nl": "Ik zie hier kansen om te leren en te groeien.",
        },
    ),
    LibraryQuestion(
        key="improve",
        kind=QuestionKind.TEXT,
        topic="open",
        text={
            "en": "What one thing would make your work better?",
            "nl": "Welke ene verandering zou je werk beter maken?",
        },
    ),
)

LIBRARY_BY_KEY = {question.key: question for question in LIBRARY}


def _language(language: str | None) -> str:
    return "nl" if (language or "").lower().startswith("nl") else "en"


def library_text(key: str, language: str | None) -> str:
    question = LIBRARY_BY_KEY.get(key)
    return question.text[_language(language)] if question else ""


def library_choices(key: str, language: str | None) -> list[str]:
    question = LIBRARY_BY_KEY.get(key)
    return list(question.choices.get(_language(language), [])) if question else []

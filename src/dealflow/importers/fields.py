"""What can be imported, field by field, with the headers (English and Dutch) each field answers to."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from django.utils.translation import gettext_lazy as _

from dealflow.importers.values import header_currency, normalize_header


class Entity(StrEnum):
    ORGANIZATIONS = "organizations"
    PERSONS = "persons"
    USERS = "users"  # a lookup only: it tells who an owner id is, it never creates an account by itself
    LEADS = "leads"
    DEALS = "deals"
    HISTORY = "history"
    ACTIVITIES = "activities"


# The order a multi-file import is written in: what others refer to comes first.
ENTITY_ORDER = [
    Entity.USERS,
    Entity.ORGANIZATIONS,
    Entity.PERSONS,
    Entity.LEADS,
    Entity.DEALS,
    Entity.HISTORY,
    Entity.ACTIVITIES,
]

ENTITY_LABELS = {
    Entity.ORGANIZATIONS: _("Organizations"),
    Entity.PERSONS: _("Persons"),
    Entity.USERS: _("Users (accounts with a team and role, or an owner lookup)"),
    Entity.LEADS: _("Leads"),
    Entity.DEALS: _("Deals"),
    Entity.HISTORY: _("Deal history"),
    Entity.ACTIVITIES: _("Activities"),
}

# Words a header may start with that name the sheet's own entity ("Deal - Title" in a deals sheet).
ENTITY_PREFIXES = {
    Entity.ORGANIZATIONS: ["organization", "organisation", "company", "account", "organisatie", "bedrijf"],
    Entity.PERSONS: ["person", "contact", "persoon", "contactpersoon"],
    Entity.USERS: ["user", "gebruiker"],
    Entity.LEADS: ["lead"],
    Entity.DEALS: ["deal", "opportunity", "opp", "kans", "verkoopkans"],
    Entity.HISTORY: ["history", "opportunityhistory", "dealhistory", "historie", "geschiedenis"],
    Entity.ACTIVITIES: ["activity", "task", "activiteit", "taak"],
}

# Words in a file or sheet name that say what it holds.
ENTITY_FILE_WORDS = {
    Entity.ORGANIZATIONS: [
        "organization",
        "organisation",
        "account",
        "compan",
        "organisatie",
        "bedrijv",
        "klant",
    ],
    Entity.PERSONS: ["person", "contact", "people", "persoon", "personen"],
    Entity.USERS: ["user", "gebruiker"],
    Entity.LEADS: ["lead"],
    Entity.HISTORY: ["history", "historie", "geschiedenis", "snapshot", "stagechange"],
    Entity.DEALS: ["deal", "opportunit", "kansen", "verkoopkans", "pipeline"],
    Entity.ACTIVITIES: ["activit", "task", "taken", "activiteit", "event"],
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str  # text, id, money, currency, date, datetime, bool, int, email
    label: object
    synonyms: tuple[str, ...] = ()
    required: bool = False
    normalized: frozenset[str] = field(default_factory=frozenset)


def _spec(name: str, kind: str, label: object, synonyms: str, *, required: bool = False) -> FieldSpec:
    words = tuple(word.strip() for word in synonyms.split("|") if word.strip())
    normalized = frozenset(normalize_header(word) for word in (name, *words))
    return FieldSpec(name, kind, label, words, required, normalized)


OWNER = "eigentumer|eigentuemer|besitzer|verantwortlich|zustandig|vertriebsmitarbeiter|proprietaire|responsable|commercial|propietario|vendedor|owner|owner id|owner name|owner email|eigenaar|verantwoordelijke|accountmanager|account manager|verkoper|sales rep|rep|user|gebruiker|assigned to|toegewezen aan"
ORGANIZATION = "firma|unternehmen|kunde|firmenname|organisation name|entreprise|societe|client|compte|empresa|compania|organizacion|cliente|cuenta|organization|organisation|organization name|company|company name|account|account name|organisatie|organisatienaam|bedrijf|bedrijfsnaam|klant|klantnaam"
ORGANIZATION_ID = "account id|organization id|organisation id|company id|organization external id|organisatie id|bedrijf id|klant id|klantnummer"
CREATED = "erstellt|erstellt am|erstellungsdatum|angelegt am|cree|cree le|date de creation|creado|creado el|fecha de creacion|created|created date|create date|created at|created on|date created|creation date|aangemaakt|aangemaakt op|aanmaakdatum|datum aangemaakt"
EMAIL = "courriel|correo|correo electronico|email|e-mail|email address|e-mailadres|emailadres|mail"

FIELDS: dict[Entity, list[FieldSpec]] = {
    Entity.ORGANIZATIONS: [
        _spec(
            "external_id",
            "id",
            _("External id"),
            "id|record id|external id|organization id|account id|company id|organisatie id|klantnummer|klant id|bedrijf id",
        ),
        _spec(
            "name",
            "text",
            _("Name"),
            "name|organization name|company name|account name|organization|organisation|company|account|naam|bedrijfsnaam|organisatienaam|organisatie|bedrijf|klant|klantnaam",
            required=True,
        ),
        _spec(
            "website",
            "text",
            _("Website"),
            "website|url|web|site|domain|company domain name|webadres|webadres|internetadres",
        ),
        _spec("industry", "text", _("Industry"), "industry|sector|branche|industrie"),
        _spec("country", "text", _("Country"), "country|country code|billing country|land|landcode"),
        _spec("owner", "text", _("Owner"), OWNER + "|company owner|account owner"),
    ],
    Entity.PERSONS: [
        _spec(
            "external_id",
            "id",
            _("External id"),
            "id|record id|external id|contact id|person id|persoon id|contactpersoon id",
        ),
        _spec("first_name", "text", _("First name"), "first name|given name|firstname|voornaam"),
        _spec("last_name", "text", _("Last name"), "last name|surname|family name|lastname|achternaam"),
        _spec(
            "full_name",
            "text",
            _("Full name"),
            "name|full name|contact name|contact person|naam|volledige naam|contactpersoon",
        ),
        _spec("email", "email", _("E-mail"), EMAIL),
        _spec(
            "phone",
            "text",
            _("Phone"),
            "phone|telephone|mobile|mobile phone|phone number|telefoon|telefoonnummer|mobiel|mobiele telefoon",
        ),
        _spec("job_title", "text", _("Job title"), "title|job title|position|role|functie|functietitel"),
        _spec("organization_id", "id", _("Organization (external id)"), ORGANIZATION_ID),
        _spec("organization", "text", _("Organization"), ORGANIZATION),
        _spec("owner", "text", _("Owner"), OWNER + "|contact owner"),
    ],
    Entity.USERS: [
        _spec("external_id", "id", _("External id"), "id|user id|record id|gebruiker id"),
        _spec("username", "text", _("Username"), "username|user name|login|alias|gebruikersnaam"),
        _spec("full_name", "text", _("Full name"), "name|full name|naam"),
        _spec("first_name", "text", _("First name"), "first name|voornaam"),
        _spec("last_name", "text", _("Last name"), "last name|achternaam"),
        _spec("email", "email", _("E-mail"), EMAIL),
        _spec("team", "text", _("Team"), "team|team name|teamnaam|equipe|equipo"),
        _spec("role", "text", _("Role"), "role|rol|rolle|functie in team|user role"),
    ],
    Entity.LEADS: [
        _spec("external_id", "id", _("External id"), "id|lead id|record id|external id"),
        _spec("title", "text", _("Title"), "title|lead title|lead name|name|subject|titel|naam|onderwerp"),
        _spec("first_name", "text", _("First name"), "first name|firstname|voornaam"),
        _spec("last_name", "text", _("Last name"), "last name|lastname|achternaam"),
        _spec("email", "email", _("E-mail"), EMAIL),
        _spec("phone", "text", _("Phone"), "phone|telephone|mobile|telefoon|telefoonnummer"),
        _spec(
            "organization_id",
            "id",
            _("Organization (external id)"),
            ORGANIZATION_ID + "|converted account id",
        ),
        _spec("organization", "text", _("Organization"), ORGANIZATION),
        _spec(
            "source", "text", _("Source"), "source|lead source|origin|channel|bron|herkomst|kanaal|leadbron"
        ),
        _spec("status", "text", _("Status"), "status|lead status|leadstatus"),
        _spec("owner", "text", _("Owner"), OWNER + "|lead owner"),
        _spec("created_at", "datetime", _("Created"), CREATED),
        _spec("is_converted", "bool", _("Converted"), "is converted|converted|geconverteerd"),
        _spec(
            "converted_deal_id",
            "id",
            _("Converted deal (external id)"),
            "converted opportunity id|converted deal id|deal id|opportunity id",
        ),
        _spec(
            "disqualified_reason",
            "text",
            _("Disqualification reason"),
            "disqualified reason|disqualification reason|unqualified reason|reason|reden|reden diskwalificatie",
        ),
        _spec("has_budget", "bool", _("Budget confirmed"), "budget|has budget|budget bevestigd"),
        _spec(
            "has_authority",
            "bool",
            _("Decision maker known"),
            "authority|has authority|decision maker|beslisser",
        ),
        _spec("has_need", "bool", _("Need confirmed"), "need|has need|behoefte"),
        _spec("has_timeline", "bool", _("Timeline known"), "timeline|has timeline|tijdlijn|planning"),
    ],
    Entity.DEALS: [
        _spec(
            "external_id",
            "id",
            _("External id"),
            "id|deal id|opportunity id|record id|external id|deal number|dealnummer|kans id|nummer",
        ),
        _spec(
            "title",
            "text",
            _("Title"),
            "title|name|deal name|deal title|opportunity name|subject|naam|titel|dealnaam|omschrijving|onderwerp|kans|bezeichnung|betreff|vorgang|nom|titre|intitule|objet|opportunite|nombre|titulo|asunto|oportunidad",
            required=True,
        ),
        _spec(
            "amount",
            "money",
            _("Amount"),
            "amount|value|deal value|deal amount|revenue|price|total|bedrag|waarde|dealwaarde|omzet|prijs|totaal|betrag|wert|umsatz|summe|preis|montant|valeur|chiffre d affaires|prix|importe|monto|valor|precio",
        ),
        _spec(
            "currency",
            "currency",
            _("Currency"),
            "currency|currency iso code|currency code|valuta|munteenheid|wahrung|waehrung|devise|monnaie|moneda|divisa",
        ),
        _spec(
            "pipeline",
            "text",
            _("Pipeline"),
            "pipeline|sales pipeline|trechter|verkooptrechter|vertriebspipeline|entonnoir|embudo",
        ),
        _spec(
            "stage",
            "text",
            _("Stage"),
            "stage|stage name|deal stage|phase|fase|stadium|dealfase|verkoopfase|stufe|verkaufsphase|etape|etape de vente|etapa",
        ),
        _spec(
            "status",
            "text",
            _("Status"),
            "status|deal status|outcome|result|state|resultaat|uitkomst|ergebnis|statut|resultat|estado|resultado",
        ),
        _spec("is_won", "bool", _("Won (yes/no)"), "is won|won|gewonnen"),
        _spec("is_closed", "bool", _("Closed (yes/no)"), "is closed|closed|gesloten|afgesloten"),
        _spec(
            "probability",
            "int",
            _("Probability (%)"),
            "probability|probability percent|win probability|deal probability|winkans|slagingskans|kans percentage|wahrscheinlichkeit|abschlusswahrscheinlichkeit|probabilite|probabilidad",
        ),
        _spec(
            "forecast_category",
            "text",
            _("Forecast category"),
            "forecast category|forecast category name|forecastcategorie|prognosecategorie",
        ),
        _spec(
            "expected_close_on",
            "date",
            _("Expected close date"),
            "close date|expected close date|expected close|expected closing date|closing date|verwachte sluitingsdatum|sluitingsdatum|verwachte afsluitdatum|afsluitdatum|verwachte datum|abschlussdatum|erwartetes abschlussdatum|date de cloture|date de cloture prevue|fecha de cierre|fecha de cierre prevista",
        ),
        _spec("created_at", "datetime", _("Created"), CREATED + "|deal created"),
        _spec(
            "closed_at",
            "datetime",
            _("Closed on"),
            "closed at|closed date|date closed|actual close date|closed on|datum gesloten|gesloten op|afgesloten op|geschlossen am|ferme le|date de fermeture|cerrado el|fecha cerrada",
        ),
        _spec(
            "won_at",
            "datetime",
            _("Won on"),
            "won time|won date|date won|won on|won at|gewonnen op|datum gewonnen|gewonnen am|gagne le|ganado el",
        ),
        _spec(
            "lost_at",
            "datetime",
            _("Lost on"),
            "lost time|lost date|date lost|lost on|lost at|verloren op|datum verloren|verloren am|perdu le|perdido el",
        ),
        _spec(
            "lost_reason",
            "text",
            _("Lost reason"),
            "lost reason|reason lost|closed lost reason|loss reason|reden verloren|verliesreden|reden verlies|verlustgrund|raison de perte|motif de perte|motivo de perdida|razon de perdida",
        ),
        _spec("owner", "text", _("Owner"), OWNER + "|deal owner|opportunity owner"),
        _spec("organization_id", "id", _("Organization (external id)"), ORGANIZATION_ID),
        _spec("organization", "text", _("Organization"), ORGANIZATION),
        _spec(
            "person",
            "text",
            _("Contact person"),
            "contact person|contact|person|contact name|contactpersoon|persoon|ansprechpartner|kontaktperson|kontakt|personne|contacto|persona",
        ),
        _spec("person_email", "email", _("Contact e-mail"), EMAIL + "|contact email|contact e-mail"),
        _spec(
            "source",
            "text",
            _("Source"),
            "lead source|source|origin|channel|bron|herkomst|kanaal|leadbron|quelle|herkunft|leadquelle|origine|canal|fuente|origen",
        ),
        _spec("lead_id", "id", _("Lead (external id)"), "lead id|converted lead id|lead external id"),
        _spec(
            "product",
            "text",
            _("Product"),
            "product|product name|produkt|produktname|artikel|produit|producto|item|dienst",
        ),
        _spec(
            "next_step",
            "text",
            _("Next step"),
            "next step|volgende stap|nachster schritt|prochaine etape|proximo paso|siguiente paso",
        ),
    ],
    Entity.HISTORY: [
        _spec(
            "deal_id",
            "id",
            _("Deal (external id)"),
            "deal id|opportunity id|deal external id|deal|kans id|dealnummer",
            required=True,
        ),
        _spec(
            "occurred_at",
            "datetime",
            _("Date of the change"),
            "created date|date|changed at|change date|occurred at|timestamp|stage change date|datum|wijzigingsdatum|gewijzigd op|created",
            required=True,
        ),
        _spec("stage", "text", _("Stage"), "stage|stage name|to stage|new stage|fase|nieuwe fase|naar fase"),
        _spec("status", "text", _("Status"), "status|outcome|resultaat"),
        _spec("amount", "money", _("Amount"), "amount|value|bedrag|waarde"),
        _spec("currency", "currency", _("Currency"), "currency|currency iso code|valuta"),
        _spec(
            "expected_close_on",
            "date",
            _("Expected close date"),
            "close date|expected close date|sluitingsdatum|verwachte sluitingsdatum",
        ),
        _spec("probability", "int", _("Probability (%)"), "probability|winkans"),
    ],
    Entity.ACTIVITIES: [
        _spec("external_id", "id", _("External id"), "id|activity id|task id|record id|external id"),
        _spec(
            "subject", "text", _("Subject"), "subject|title|name|onderwerp|titel|activiteit", required=True
        ),
        _spec("kind", "text", _("Type"), "type|kind|activity type|task subtype|soort|type activiteit"),
        _spec(
            "due_at",
            "datetime",
            _("Due"),
            "due date|due|activity date|date|deadline|vervaldatum|datum|gepland op",
        ),
        _spec(
            "done_at",
            "datetime",
            _("Done on"),
            "done date|completed date|completed at|marked as done time|done at|afgerond op|gedaan op",
        ),
        _spec("is_done", "bool", _("Done (yes/no)"), "done|is done|completed|is closed|afgerond|gedaan"),
        _spec(
            "notes",
            "text",
            _("Notes"),
            "notes|note|description|comments|notities|notitie|omschrijving|beschrijving",
        ),
        _spec("owner", "text", _("Owner"), OWNER + "|assigned to user"),
        _spec("deal_id", "id", _("Deal (external id)"), "deal id|opportunity id|what id|kans id"),
        _spec("lead_id", "id", _("Lead (external id)"), "lead id"),
        _spec("person_email", "email", _("Contact e-mail"), EMAIL + "|contact email"),
    ],
}

FIELDS_BY_NAME: dict[Entity, dict[str, FieldSpec]] = {
    entity: {spec.name: spec for spec in specs} for entity, specs in FIELDS.items()
}


def field_for_header(entity: Entity, header: str, *, prefixed: bool = True) -> FieldSpec | None:
    """The field a header names in a sheet of ``entity``, matched loosely; None if it names none."""
    key = normalize_header(header)
    if not key:
        return None
    candidates = [key]
    bare, currency = header_currency(header)
    if currency is not None and normalize_header(bare):
        candidates.append(normalize_header(bare))  # "BEDRAG (EUR)" is the amount, in euros
    if prefixed:
        for prefix in ENTITY_PREFIXES[entity]:
            if key.startswith(prefix) and len(key) > len(prefix):
                candidates.append(key[len(prefix) :])
    for candidate in candidates:
        for spec in FIELDS[entity]:
            if candidate in spec.normalized:
                return spec
    return None


def guess_columns(entity: Entity, headers: list[str]) -> dict[str, str]:
    """Header -> field for each header we recognise; each field is taken by its first matching header."""
    columns: dict[str, str] = {}
    taken: set[str] = set()
    # Whole-header matches come first, so "Deal ID" beats "ID" only when "ID" is missing.
    for prefixed in (False, True):
        for header in headers:
            if header in columns:
                continue
            spec = field_for_header(entity, header, prefixed=prefixed)
            if spec and spec.name not in taken:
                columns[header] = spec.name
                taken.add(spec.name)
    return {header: columns[header] for header in headers if header in columns}


def entity_guess(headers: list[str], *, name: str = "") -> Entity | None:
    """The entity a sheet most likely holds, from its name and then from how many headers match."""
    lowered = normalize_header(name)
    for entity, words in ENTITY_FILE_WORDS.items():
        if any(word in lowered for word in words):
            return entity
    best: tuple[int, Entity] | None = None
    for entity in FIELDS:
        if entity == Entity.USERS:
            continue
        columns = guess_columns(entity, headers)
        mapped = set(columns.values())
        required = [spec.name for spec in FIELDS[entity] if spec.required]
        if not all(name in mapped for name in required):
            continue
        score = len(mapped)
        if best is None or score > best[0]:
            best = (score, entity)
    return best[1] if best else None

"""The small reference data of the demo: teams, people who sign in, pipelines, exchange rates, contacts.

Built through the services (a few hundred rows at most), except organizations and persons, which are
plain rows without history and go in with ``bulk_create``. Running it again reuses what exists, so
``dealflow demo`` can add more deals to a database that already holds a demo.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import transaction

from dealflow.accounts.models import Role, Team, User
from dealflow.accounts.services import membership_set, team_create, user_create
from dealflow.contacts.models import Organization, Person
from dealflow.deals.models import LeadSource, LostReason, Pipeline, StageKind
from dealflow.deals.services import exchange_rate_set, pipeline_create, stage_create, stage_update
from dealflow.demo import vocabulary

DEMO_PASSWORD = "dealflow-demo"  # printed by `dealflow run`; fine for a demo, never for real data
# The logins `dealflow run` prints: username, role shown to the reader.
DEMO_LOGINS = [
    ("admin", "admin"),
    ("manager", "manager, Benelux"),
    ("rep", "rep, Benelux"),
    ("rep2", "rep, Benelux"),
]


@dataclass(frozen=True)
class TeamSpec:
    name: str
    currency: str
    countries: tuple[str, ...]


TEAMS = [
    TeamSpec("Benelux", "EUR", ("NL", "BE")),
    TeamSpec("DACH", "EUR", ("DE", "AT", "CH")),
    TeamSpec("Nordics", "EUR", ("SE", "DK", "NO", "FI")),
    TeamSpec("UK & Ireland", "GBP", ("GB", "IE")),
    TeamSpec("North America", "USD", ("US", "CA")),
]
# Value of one unit in EUR (the default base currency) at the start; the demo walks it month by month.
START_RATES = {"USD": Decimal("0.92"), "GBP": Decimal("1.17")}


@dataclass(frozen=True)
class StageBehaviour:
    """How deals behave in an open stage: mean days there, and the chance of each way out."""

    stage_id: int
    name: str
    mean_days: float
    advance: float
    back: float


@dataclass
class PipelineInfo:
    pk: int
    name: str
    share: float  # of new deals
    median_amount: float
    median_cycle_days: float
    stages: list[StageBehaviour]


@dataclass
class TeamInfo:
    pk: int
    name: str
    currency: str
    countries: tuple[str, ...]
    manager_id: int
    rep_ids: list[int] = field(default_factory=list)
    organizations: list[tuple[int, str, list[int]]] = field(default_factory=list)  # (id, name, person ids)


@dataclass
class DemoWorld:
    seed: int
    today: dt.date
    horizon: dt.datetime  # nothing in the history happens at or after this moment
    start: dt.datetime
    teams: list[TeamInfo]
    rep_skill: dict[int, float]
    pipelines: list[PipelineInfo]
    lost_reason_ids: dict[str, int]
    source_ids: dict[str, int]
    admin_id: int


SALES_BEHAVIOUR = [
    # stage name, mean days, P(advance), P(back); the rest is lost
    ("Qualification", 8, 0.72, 0.0),
    ("Needs analysis", 12, 0.75, 0.04),
    ("Proposal", 15, 0.66, 0.06),
    ("Negotiation", 10, 0.74, 0.07),
    ("Closing", 7, 0.80, 0.05),
]
PARTNERSHIP_STAGES = [
    # name, probability, forecast category, rotting days, definition of done, mean days, advance, back
    ("Partner intro", 10, "pipeline", 21, "Both sides named an owner and agreed to explore a partnership.", 14, 0.60, 0.0),
    ("Joint business plan", 30, "pipeline", 30, "Target customers, volumes and the commercial model are written down.", 24, 0.70, 0.05),
    ("Pilot", 60, "best_case", 45, "A first joint customer is live and both sides judged the pilot.", 30, 0.72, 0.06),
    ("Contract", 85, "commit", 21, "The partner agreement is with legal on both sides.", 18, 0.80, 0.04),
]  # fmt: skip


def ascii_slug(text: str, separator: str = ".") -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return separator.join("".join(char if char.isalnum() else " " for char in plain).split())


def _user(username: str, first_name: str, last_name: str, *, is_superuser: bool = False) -> User:
    existing = User.objects.filter(username=username).first()
    if existing:
        return existing
    return user_create(
        username=username,
        password=None,
        email=f"{username}@example.com",
        first_name=first_name,
        last_name=last_name,
        is_superuser=is_superuser,
        validate=False,
    )


def _team(name: str) -> Team:
    return Team.objects.filter(name=name).first() or team_create(name=name)


def _person_name(rng: random.Random, taken: set[str]) -> tuple[str, str, str]:
    while True:
        first, last = rng.choice(vocabulary.FIRST_NAMES), rng.choice(vocabulary.LAST_NAMES)
        username = ascii_slug(f"{first} {last}")
        if username not in taken:
            taken.add(username)
            return first, last, username


def _users_and_teams(rng: random.Random, rep_count: int) -> tuple[list[TeamInfo], dict[int, float], int]:
    taken = {"admin", "manager", "rep", "rep2", "analyst"}
    admin = _user("admin", "Ada", "Admin", is_superuser=True)
    teams: list[TeamInfo] = []
    for index, spec in enumerate(TEAMS):
        team = _team(spec.name)
        if index == 0:
            manager = _user("manager", "Mona", "Manager")
        else:
            first, last, username = _person_name(rng, taken)
            manager = _user(username, first, last)
        membership_set(user=manager, team=team, role=Role.MANAGER)
        teams.append(TeamInfo(team.pk, spec.name, spec.currency, spec.countries, manager.pk))
    analyst = _user("analyst", "Ana", "Lyst")
    membership_set(user=analyst, team=_team(TEAMS[0].name), role=Role.ANALYST)
    reps = [_user("rep", "Rita", "Rep"), _user("rep2", "Ruud", "Tweede")]
    for _ in range(max(0, rep_count - 2)):
        first, last, username = _person_name(rng, taken)
        reps.append(_user(username, first, last))
    skill: dict[int, float] = {}
    for index, rep in enumerate(reps):
        team_info = teams[0] if index < 2 else teams[(index - 2) % len(teams)]
        membership_set(user=rep, team=Team.objects.get(pk=team_info.pk), role=Role.REP)
        team_info.rep_ids.append(rep.pk)
        skill[rep.pk] = rng.uniform(0.85, 1.15)
    # One password hash for everyone: hashing it per user would cost about half a second each.
    User.objects.filter(username__in=[*taken, *(rep.username for rep in reps)]).update(
        password=make_password(DEMO_PASSWORD)
    )
    return teams, skill, admin.pk


def _pipelines() -> list[PipelineInfo]:
    sales = Pipeline.objects.get(name="Sales")
    sales_stages = {stage.name: stage for stage in sales.stages.filter(kind=StageKind.OPEN, is_active=True)}
    sales_behaviour = [
        StageBehaviour(sales_stages[name].pk, name, days, advance, back)
        for name, days, advance, back in SALES_BEHAVIOUR
        if name in sales_stages
    ]
    partnerships = Pipeline.objects.filter(name="Partnerships").first()
    if partnerships is None:
        partnerships = pipeline_create(name="Partnerships", with_default_stages=True)
        defaults = list(partnerships.stages.filter(kind=StageKind.OPEN).order_by("order"))
        for order, (name, probability, category, rotting, done, *_behaviour) in enumerate(PARTNERSHIP_STAGES):
            values: dict[str, Any] = {
                "probability": probability,
                "forecast_category": category,
                "rotting_days": rotting,
                "definition_of_done": done,
            }
            if order < len(defaults):
                stage_update(stage=defaults[order], data={"name": name, **values})
            else:
                stage_create(pipeline=partnerships, name=name, **values)
    partner_stages = {stage.name: stage for stage in partnerships.stages.filter(kind=StageKind.OPEN)}
    partner_behaviour = [
        StageBehaviour(partner_stages[name].pk, name, days, advance, back)
        for name, _p, _c, _r, _d, days, advance, back in PARTNERSHIP_STAGES
    ]
    return [
        PipelineInfo(sales.pk, "Sales", 0.82, 12000, 55, sales_behaviour),
        PipelineInfo(partnerships.pk, "Partnerships", 0.18, 30000, 110, partner_behaviour),
    ]


def _exchange_rates(rng: random.Random, start: dt.date, today: dt.date) -> None:
    for currency, rate in START_RATES.items():
        month = dt.date(start.year, start.month, 1)
        while month <= today:
            exchange_rate_set(currency=currency, rate=rate.quantize(Decimal("0.0001")), valid_from=month)
            rate *= Decimal(str(round(rng.gauss(1.0, 0.012), 4)))
            month = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _contacts(rng: random.Random, teams: list[TeamInfo], organization_count: int, at: dt.datetime) -> None:
    """Organizations in each team's countries, each with one to three persons."""
    organizations: list[tuple[TeamInfo, Organization]] = []
    for index in range(organization_count):
        team = teams[index % len(teams)]
        country = rng.choice(team.countries)
        words = [vocabulary.COMPANY_FIRST, vocabulary.COMPANY_SECOND, vocabulary.COMPANY_SUFFIX[country]]
        name = " ".join(rng.choice(choices) for choices in words)
        organization = Organization(
            name=name,
            website=f"https://{ascii_slug(name, '-')}.example",
            industry=rng.choice(vocabulary.INDUSTRIES),
            country=country,
            created_at=at,  # no owner: the company's contacts, which every signed-in user sees
        )
        organizations.append((team, organization))
    Organization.objects.bulk_create([organization for _, organization in organizations], batch_size=2000)
    people: list[tuple[list[int], Person]] = []
    for team, organization in organizations:
        person_ids: list[int] = []
        team.organizations.append((organization.pk, organization.name, person_ids))
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            first, last = rng.choice(vocabulary.FIRST_NAMES), rng.choice(vocabulary.LAST_NAMES)
            person = Person(
                first_name=first,
                last_name=last,
                email=f"{ascii_slug(f'{first} {last}')}@{ascii_slug(organization.name, '-')}.example",
                job_title=rng.choice(vocabulary.JOB_TITLES),
                organization_id=organization.pk,
                created_at=at,
            )
            people.append((person_ids, person))
    Person.objects.bulk_create([person for _, person in people], batch_size=2000)
    for person_ids, person in people:
        person_ids.append(person.pk)


@transaction.atomic
def world_build(*, seed: int, today: dt.date, months: int, deal_count: int) -> DemoWorld:
    """Create (or reuse) the teams, users, pipelines, rates and contacts the deals will refer to."""
    rng = random.Random(seed)
    horizon = dt.datetime.combine(today, dt.time(0, 0), tzinfo=dt.UTC)
    start = horizon - dt.timedelta(days=round(months * 30.44))
    rep_count = min(150, max(10, deal_count // 250))
    teams, skill, admin_id = _users_and_teams(rng, rep_count)
    pipelines = _pipelines()
    _exchange_rates(rng, start.date() - dt.timedelta(days=31), today)
    _contacts(rng, teams, min(5000, max(40, deal_count // 10)), start)
    return DemoWorld(
        seed=seed,
        today=today,
        horizon=horizon,
        start=start,
        teams=teams,
        rep_skill=skill,
        pipelines=pipelines,
        lost_reason_ids=dict(LostReason.objects.filter(is_active=True).values_list("name", "pk")),
        source_ids=dict(LeadSource.objects.values_list("key", "pk")),
        admin_id=admin_id,
    )

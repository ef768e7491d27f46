"""Deal and lead histories: a stochastic sales process over the demo window, as input for the bulk writer.

Each deal walks its pipeline stage by stage. In each stage it stays a gamma-distributed number of days
(stage-dependent mean, some "zombie" deals much longer), then advances (sometimes skipping a stage),
moves back, or is lost, with stage-dependent chances scaled by the owner's skill; advancing from the last
open stage wins it. Along the way the expected close date slips when it passes (or is left overdue),
amounts change around the proposal, reps override forecast categories late in the pipeline, a few
deals change owner, lost deals are now and then reopened, and calls, meetings, e-mails and notes are
logged. Deals still open at the horizon get a next step and a planned (sometimes overdue) task. About
half the deals come from a converted lead; more leads are disqualified or still being worked.

Everything is drawn from the ``random.Random`` handed in, so a seed gives the same history every time.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from operator import itemgetter

from dealflow.deals.bulk import (
    BulkActivity,
    BulkDeal,
    BulkLead,
    LogActivity,
    Lost,
    Move,
    Reopen,
    Step,
    Update,
    Won,
)
from dealflow.demo import vocabulary
from dealflow.demo.world import DemoWorld, TeamInfo

GROWTH = 0.6  # the last month sees 60 % more new deals than the first
LEAD_SHARE = 0.55  # of deals that come from a converted lead
EXTRA_LEADS_PER_DEAL = 0.7  # leads that never became a deal (disqualified or still open)
LEAD_SOURCE_WEIGHTS = {
    "website": 30,
    "trade_show": 15,
    "referral": 15,
    "campaign": 20,
    "outbound": 15,
    "other": 5,
}
DIRECT_SOURCE_WEIGHTS = {"outbound": 45, "referral": 25, "other": 10, "": 20}
EARLY_LOST_REASONS = ["Not a fit", "No budget", "No decision / went silent", "Timing", "Other"]
LATE_LOST_REASONS = ["Price", "Chose a competitor", "No decision / went silent", "Missing feature", "Timing"]
LOST_NOTES = [
    "",
    "",
    "",
    "Went with the incumbent.",
    "Budget moved to next year.",
    "Champion left the company.",
]
CATEGORY_OVERRIDES = ["commit", "commit", "best_case", "omitted"]
PROBABILITY_OVERRIDES = [20, 35, 50, 65, 80, 90]
ADVANCE, BACK, LOST = 0, 1, 2
MAX_SPELLS = 25


def _weighted(weights: dict[str, int], ids: dict[str, int]) -> tuple[list[int | None], list[int]]:
    keys = [key for key in weights if key == "" or key in ids]
    values = [ids[key] if key else None for key in keys]
    cumulative, total = [], 0
    for key in keys:
        total += weights[key]
        cumulative.append(total)
    return values, cumulative


def _month_end(day: dt.date) -> dt.date:
    following = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


class HistoryGenerator:
    """Draws deals, leads and activities for one slice of the demo window at a time."""

    def __init__(self, world: DemoWorld, rng: random.Random) -> None:
        self.world = world
        self.rng = rng
        self.horizon = world.horizon
        self.span_seconds = (world.horizon - world.start).total_seconds()
        self.reps = [(rep_id, team) for team in world.teams for rep_id in team.rep_ids]
        self.lead_sources = _weighted(LEAD_SOURCE_WEIGHTS, world.source_ids)
        self.direct_sources = _weighted(DIRECT_SOURCE_WEIGHTS, world.source_ids)
        available = world.lost_reason_ids
        fallback = list(available.values())
        self.early_reasons = [available[name] for name in EARLY_LOST_REASONS if name in available] or fallback
        self.late_reasons = [available[name] for name in LATE_LOST_REASONS if name in available] or fallback

    # -- time --

    def _created_at(self, low: float, high: float) -> dt.datetime:
        """A moment in the window, denser towards today (growth), on a weekday in business hours."""
        share = self.rng.uniform(low, high) * (1 + GROWTH / 2)
        position = (-1 + math.sqrt(1 + 2 * GROWTH * share)) / GROWTH
        moment = self.world.start + dt.timedelta(seconds=int(position * self.span_seconds))
        day = moment.date()
        if day.weekday() >= 5:
            day += dt.timedelta(days=7 - day.weekday())
        minutes = 7 * 60 + self.rng.randrange(10 * 60)
        moment = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tzinfo=dt.UTC)
        return moment if moment < self.horizon else self.horizon - dt.timedelta(hours=self.rng.randint(2, 60))

    def _later(self, moment: dt.datetime, days: float) -> dt.datetime:
        return moment + dt.timedelta(seconds=int(days * 86400))

    # -- one chunk --

    def chunk(
        self, count: int, low: float, high: float
    ) -> tuple[list[BulkLead], list[BulkDeal], list[BulkActivity]]:
        """``count`` deals created in the window's share [low, high), with their leads and lead activities."""
        rng = self.rng
        leads: list[BulkLead] = []
        deals: list[BulkDeal] = []
        lead_activities: list[BulkActivity] = []
        while len(deals) < count:
            owner_id, team = rng.choice(self.reps)
            created_at = self._created_at(low, high)
            deal = self._new_deal(owner_id, team, created_at, leads)
            deals.append(deal)
            won_at = self._walk(deal, team)
            if won_at is not None and len(deals) < count and rng.random() < 0.08:
                upsell_at = self._later(won_at, rng.uniform(45, 200))
                if upsell_at < self.horizon:
                    upsell = self._new_deal(deal.owner_id, team, upsell_at, leads, parent=deal)
                    deals.append(upsell)
                    self._walk(upsell, team)
        for _ in range(round(count * EXTRA_LEADS_PER_DEAL)):
            owner_id, team = rng.choice(self.reps)
            self._open_or_disqualified_lead(
                owner_id, team, self._created_at(low, high), leads, lead_activities
            )
        return leads, deals, lead_activities

    def _pick(self, choices: tuple[list[int | None], list[int]]) -> int | None:
        values, cumulative = choices
        return self.rng.choices(values, cum_weights=cumulative)[0]

    def _new_deal(
        self,
        owner_id: int,
        team: TeamInfo,
        created_at: dt.datetime,
        leads: list[BulkLead],
        parent: BulkDeal | None = None,
    ) -> BulkDeal:
        rng = self.rng
        world = self.world
        pipeline = world.pipelines[0] if rng.random() < world.pipelines[0].share else world.pipelines[1]
        if parent is not None:
            pipeline = world.pipelines[0]
            organization_id, person_id = parent.organization_id, parent.person_id
            organization_name = parent.title.split(" - ")[0]
        else:
            organization_id, organization_name, person_ids = rng.choice(team.organizations)
            person_id = rng.choice(person_ids) if person_ids else None
        currency = team.currency if team.currency == "USD" or rng.random() > 0.08 else "USD"
        amount = rng.lognormvariate(math.log(pipeline.median_amount * (0.5 if parent else 1)), 0.8)
        amount_minor = max(1, round(amount / 50)) * 5000
        close_on = created_at.date() + dt.timedelta(
            days=round(rng.lognormvariate(math.log(pipeline.median_cycle_days), 0.5))
        )
        if rng.random() < 0.5:
            close_on = _month_end(close_on)
        product = rng.choice(vocabulary.PRODUCTS.get(pipeline.name, vocabulary.PRODUCTS["Sales"]))
        lead = None
        source_id = None
        if parent is None and rng.random() < LEAD_SHARE:
            lead = self._converted_lead(owner_id, organization_id, organization_name, person_id, created_at)
            leads.append(lead)
        elif parent is None:
            source_id = self._pick(self.direct_sources)
        return BulkDeal(
            title=f"{organization_name} - {product}" + (" (upsell)" if parent else ""),
            owner_id=owner_id,
            pipeline_id=pipeline.pk,
            stage_id=pipeline.stages[0].stage_id,
            created_at=created_at,
            amount_minor=amount_minor,
            currency=currency,
            expected_close_on=close_on,
            organization_id=organization_id,
            person_id=person_id,
            source_id=source_id,
            lead=lead,
            parent=parent,
            by_id=owner_id,
            origin="demo",
        )

    # -- the walk through the pipeline --

    def _walk(self, deal: BulkDeal, team: TeamInfo) -> dt.datetime | None:
        """Append the deal's steps; return when it was won (None if lost or still open)."""
        rng, horizon = self.rng, self.horizon
        random = rng.random
        pipeline = next(pipeline for pipeline in self.world.pipelines if pipeline.pk == deal.pipeline_id)
        stages = pipeline.stages
        last = len(stages) - 1
        pricing_stage = min(2, last - 1)
        skill = self.world.rep_skill.get(deal.owner_id, 1.0)
        zombie = 5.0 if random() < 0.04 else 1.0
        owner_id, amount_minor, close_on = deal.owner_id, deal.amount_minor, deal.expected_close_on
        steps = deal.steps
        index, entered_at = 0, deal.created_at
        for _spell in range(MAX_SPELLS):
            behaviour = stages[index]
            roll = random()
            advance = min(0.95, behaviour.advance * skill)
            outcome = ADVANCE if roll < advance else BACK if roll < advance + behaviour.back else LOST
            days = max(0.05, rng.gammavariate(1.6, behaviour.mean_days / 1.6) * zombie)
            if outcome == LOST or _spell == MAX_SPELLS - 1:
                outcome, days = LOST, days * 1.3
            exit_at = self._later(entered_at, days)
            end = min(exit_at, horizon)
            span_days = (end - entered_at).total_seconds() / 86400
            during: list[tuple[dt.datetime, Step]] = []

            for _ in range((random() < 0.55) + (random() < 0.25)):
                at = self._later(entered_at, random() * span_days)
                during.append((at, LogActivity(self._done_activity(owner_id, deal.person_id, at))))
            while close_on is not None:  # the expected close date passes while the deal waits here
                slip_at = dt.datetime.combine(close_on, dt.time(8), tzinfo=dt.UTC) + dt.timedelta(
                    days=1 + 2 * random()
                )
                if slip_at >= end or random() > 0.72:
                    break  # closed before anyone looked, or left overdue
                close_on += dt.timedelta(days=rng.randint(10, 45))
                if random() < 0.4:
                    close_on = _month_end(close_on)
                during.append((slip_at, Update(slip_at, {"expected_close_on": close_on}, by_id=owner_id)))
            if index >= pricing_stage - 1 and random() < 0.25:
                at = self._later(entered_at, random() * span_days * 0.5)
                amount_minor = max(5000, round(amount_minor * rng.uniform(0.7, 1.35) / 5000) * 5000)
                during.append((at, Update(at, {"amount_minor": amount_minor}, by_id=owner_id)))
            if index >= last - 1 and random() < 0.25:
                at = self._later(entered_at, random() * span_days * 0.3)
                category = rng.choice(CATEGORY_OVERRIDES)
                during.append((at, Update(at, {"forecast_category_override": category}, by_id=owner_id)))
            if random() < 0.015:
                at = self._later(entered_at, random() * span_days)
                during.append(
                    (
                        at,
                        Update(
                            at, {"probability_override": rng.choice(PROBABILITY_OVERRIDES)}, by_id=owner_id
                        ),
                    )
                )
            if random() < 0.006 and len(team.rep_ids) > 1:
                at = self._later(entered_at, random() * span_days)
                new_owner = rng.choice([rep for rep in team.rep_ids if rep != owner_id])
                during.append((at, Update(at, {"owner_id": new_owner}, by_id=team.manager_id, origin="demo")))
                owner_id = new_owner
            if exit_at >= horizon:  # still open today
                at = self._later(entered_at, random() * span_days)
                next_on = horizon.date() + dt.timedelta(days=rng.randint(-10, 21))
                next_step = {"next_step": rng.choice(vocabulary.NEXT_STEPS), "next_step_on": next_on}
                during.append((at, Update(at, next_step, by_id=owner_id)))
                if random() < 0.8:
                    due_at = dt.datetime.combine(next_on, dt.time(9), tzinfo=dt.UTC)
                    task = BulkActivity(
                        kind="task",
                        subject=rng.choice(vocabulary.TASK_SUBJECTS),
                        owner_id=owner_id,
                        at=at,
                        due_at=due_at,
                        person_id=deal.person_id,
                    )
                    during.append((at, LogActivity(task)))
            during.sort(key=itemgetter(0))
            steps.extend(step for _, step in during)
            if exit_at >= horizon:
                return None

            if outcome == ADVANCE and index == last:
                follow_up_done = self._later(exit_at, 14 + rng.uniform(-5, 10))
                done_at = follow_up_done if follow_up_done < horizon and random() < 0.85 else None
                steps.append(Won(exit_at, by_id=owner_id, follow_up_done_at=done_at))
                return exit_at
            if outcome == ADVANCE:
                index += 2 if index + 2 <= last and random() < 0.05 else 1
                steps.append(Move(exit_at, stages[index].stage_id, by_id=owner_id))
            elif outcome == BACK:
                index -= 1
                steps.append(Move(exit_at, stages[index].stage_id, by_id=owner_id))
            else:
                reasons = self.early_reasons if index < pricing_stage else self.late_reasons
                steps.append(Lost(exit_at, rng.choice(reasons), by_id=owner_id, note=rng.choice(LOST_NOTES)))
                reopen_at = self._later(exit_at, rng.uniform(15, 60))
                if random() >= 0.03 or reopen_at >= horizon:
                    return None
                steps.append(Reopen(reopen_at, by_id=owner_id, note="The customer came back."))
                exit_at = reopen_at
            entered_at = exit_at
        return None

    def _done_activity(self, owner_id: int, person_id: int | None, at: dt.datetime) -> BulkActivity:
        roll = self.rng.random()
        if roll < 0.4:
            kind, subjects = "call", vocabulary.CALL_SUBJECTS
        elif roll < 0.65:
            kind, subjects = "meeting", vocabulary.MEETING_SUBJECTS
        elif roll < 0.85:
            kind, subjects = "email", vocabulary.EMAIL_SUBJECTS
        else:
            kind, subjects = "note", vocabulary.NOTE_SUBJECTS
        return BulkActivity(
            kind=kind,
            subject=self.rng.choice(subjects),
            owner_id=owner_id,
            at=at,
            done_at=at,
            person_id=person_id,
        )

    # -- leads --

    def _converted_lead(
        self,
        owner_id: int,
        organization_id: int | None,
        organization_name: str,
        person_id: int | None,
        converted_at: dt.datetime,
    ) -> BulkLead:
        rng = self.rng
        created_at = converted_at - dt.timedelta(seconds=rng.randint(2 * 86400, 30 * 86400))
        qualified_at = converted_at - dt.timedelta(seconds=rng.randint(0, 2 * 86400))
        answers = [rng.random() < 0.7 for _ in range(3)]
        if not any(answers):
            answers[rng.randrange(3)] = True
        return BulkLead(
            title=f"{organization_name} {rng.choice(vocabulary.LEAD_TOPICS)}",
            source_id=self._pick(self.lead_sources) or 0,
            owner_id=owner_id,
            created_at=created_at,
            status="converted",
            organization_id=organization_id,
            person_id=person_id,
            has_need=True,
            has_budget=answers[0],
            has_authority=answers[1],
            has_timeline=answers[2],
            qualified_at=max(qualified_at, created_at),
            closed_at=converted_at,
        )

    def _open_or_disqualified_lead(
        self,
        owner_id: int,
        team: TeamInfo,
        created_at: dt.datetime,
        leads: list[BulkLead],
        activities: list[BulkActivity],
    ) -> None:
        rng = self.rng
        organization_id, organization_name, person_ids = rng.choice(team.organizations)
        person_id = rng.choice(person_ids) if person_ids else None
        lead = BulkLead(
            title=f"{organization_name} {rng.choice(vocabulary.LEAD_TOPICS)}",
            source_id=self._pick(self.lead_sources) or 0,
            owner_id=owner_id,
            created_at=created_at,
            organization_id=organization_id,
            person_id=person_id,
        )
        age_days = (self.horizon - created_at).total_seconds() / 86400
        status_roll = rng.random()
        if rng.random() < (0.9 if age_days > 30 else 0.15):
            lead.status = "disqualified"
            lead.disqualified_reason = rng.choice(vocabulary.DISQUALIFY_REASONS)
            lead.closed_at = min(
                self._later(created_at, rng.uniform(0.5, 20)), self.horizon - dt.timedelta(hours=1)
            )
        elif status_roll < 0.4 and age_days <= 30:
            lead.status = "new"
        elif status_roll < 0.75:
            lead.status = "working"
            lead.has_need = rng.random() < 0.5
        else:
            lead.status = "qualified"
            lead.has_need = lead.has_budget = True
            lead.qualified_at = min(
                self._later(created_at, rng.uniform(0.5, 5)), self.horizon - dt.timedelta(hours=1)
            )
        leads.append(lead)
        if lead.status != "new" and rng.random() < 0.5:
            at = min(self._later(created_at, rng.uniform(0.1, 3)), self.horizon - dt.timedelta(minutes=30))
            activities.append(
                BulkActivity(
                    kind="call",
                    subject=rng.choice(vocabulary.CALL_SUBJECTS),
                    owner_id=owner_id,
                    at=at,
                    done_at=at,
                    lead=lead,
                    person_id=person_id,
                )
            )
        if lead.status in ("new", "working", "qualified") and rng.random() < 0.6:
            at = min(self._later(created_at, 0.05), self.horizon - dt.timedelta(minutes=10))
            due_at = dt.datetime.combine(self.horizon.date(), dt.time(9), tzinfo=dt.UTC) + dt.timedelta(
                days=rng.randint(-7, 10)
            )
            subject = rng.choice(vocabulary.TASK_SUBJECTS)
            activities.append(
                BulkActivity(kind="task", subject=subject, owner_id=owner_id, at=at, due_at=due_at, lead=lead)
            )

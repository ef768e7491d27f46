"""Users, organizations and persons of a file, as operations."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from dealflow.accounts.models import Membership, Role, User
from dealflow.accounts.selectors import user_access_scope
from dealflow.contacts.models import Organization, Person
from dealflow.importers.countries import country_code
from dealflow.importers.fields import Entity
from dealflow.importers.parsing import (
    LINE,
    REJECTED,
)
from dealflow.importers.planning.base import BuilderBase
from dealflow.importers.planning.operations import (
    Counts,
    RecordOp,
    UserOp,
)
from dealflow.importers.planning.words import (
    _differs,
    _role,
    is_roster,
)
from dealflow.importers.references import Ref
from dealflow.importers.values import normalize_name


class ContactsPart(BuilderBase):
    """Users (accounts of a users sheet), organizations and persons."""

    # users

    def build_users(self) -> None:
        """Accounts from a users sheet with a team or role column (admins only), matched by e-mail or username."""
        roster = [parsed for parsed in self.by_entity[Entity.USERS] if is_roster(parsed)]
        if not roster:
            return
        is_admin = user_access_scope(user=self.plan.by).is_admin
        users = list(User.objects.all())
        by_email = {user.email.lower(): user for user in users if user.email}
        by_username = {user.username.lower(): user for user in users}
        memberships = {
            (user_id, team.lower()): role
            for user_id, team, role in Membership.objects.values_list("user_id", "team__name", "role")
        }
        taken = set(by_username)
        counts = self.plan.counts[Entity.USERS]
        for parsed in roster:
            for row in parsed.rows:
                email = str(row.get("email") or "").lower()
                full = str(row.get("full_name") or "").strip()
                first = str(row.get("first_name") or "") or full.partition(" ")[0]
                last = str(row.get("last_name") or "") or full.partition(" ")[2]
                username = str(row.get("username") or "").strip() or (email.split("@")[0] if email else "")
                if not is_admin:
                    self.error(parsed, row, "email", email, _("Only admins may import users."))
                    continue
                if not (email or username):
                    self.error(parsed, row, "email", "", _("A user needs an e-mail address or a username."))
                    continue
                role = (
                    _role(row.get("role")) if row.get("role") else (Role.REP.value if row.get("team") else "")
                )
                if role is None:
                    self.error(
                        parsed,
                        row,
                        "role",
                        row.get("role"),
                        _("Unknown role; use admin, manager, rep or analyst."),
                    )
                    continue
                team = str(row.get("team") or "").strip()[:120]
                if role and not team:
                    self.error(parsed, row, "team", "", _("A role needs the team it holds in."))
                    continue
                existing = by_email.get(email) if email else None
                existing = existing or by_username.get(username.lower())
                key = f"user:roster:{email or username.lower()}"
                if existing is not None:
                    if team and memberships.get((existing.pk, team.lower())) != role:
                        self.plan.users.append(
                            UserOp(
                                parsed.name,
                                row[LINE],
                                key,
                                existing.username,
                                email,
                                first,
                                last,
                                team,
                                role,
                                existing,
                            )
                        )
                        counts.update += 1
                    else:
                        counts.skip += 1
                    continue
                base = username or "user"
                number = 2
                while username.lower() in taken:
                    username = f"{base}-{number}"
                    number += 1
                taken.add(username.lower())
                self.plan.users.append(
                    UserOp(
                        parsed.name,
                        row[LINE],
                        key,
                        username[:150],
                        email,
                        first[:150],
                        last[:150],
                        team,
                        role,
                    )
                )
                counts.create += 1
                for name in (email, username.lower(), normalize_name(f"{first} {last}")):
                    if name:
                        self.owners.planned.setdefault(name, key)

    # organizations

    def build_organizations(self) -> None:
        rows = [row for _parsed, row in self.rows(Entity.ORGANIZATIONS)]
        if not rows:
            return
        existing = self.existing(Organization, [row["external_id"] for row in rows if row.get("external_id")])
        _by_id, by_name = self.load_organizations(
            [{"organization": row["name"]} for row in rows if row.get("name")]
        )
        counts = self.plan.counts[Entity.ORGANIZATIONS]
        for parsed, row in self.rows(Entity.ORGANIZATIONS):
            name = (row.get("name") or "").strip()
            if not name:
                self.error(parsed, row, "name", "", _("An organization needs a name."))
            values: dict[str, Any] = {"name": name[:200]}
            for key, limit in (("website", 200), ("industry", 80)):
                if key in row:
                    values[key] = str(row[key])[:limit]
            if row.get("country"):
                country = str(row["country"]).strip()
                code = country_code(country)
                if code is not None:
                    values["country"] = code
                else:
                    self.warn(
                        parsed,
                        row,
                        "country",
                        country,
                        _("Neither a country name nor a two-letter country code; left empty."),
                    )
            if "owner" in row:
                values["owner"] = self.owner(parsed, row)
            if row.get(REJECTED):
                continue
            record = existing.get(row.get("external_id", ""))
            if record is None and not row.get("external_id"):
                record = by_name.get(normalize_name(name))  # no id: the name is the organization's identity
            key = (
                f"organization:id:{row['external_id']}"
                if row.get("external_id")
                else f"organization:line:{parsed.name}:{row[LINE]}"
            )
            if record is not None:
                ref: Ref = record.pk
                if _differs(record, values):
                    self.plan.organizations.append(RecordOp(parsed.name, row[LINE], key, values, record))
                    counts.update += 1
                else:
                    counts.skip += 1
            else:
                ref = key
                values["external_id"] = row.get("external_id", "")
                self.plan.organizations.append(RecordOp(parsed.name, row[LINE], key, values))
                counts.create += 1
            if row.get("external_id"):
                self.organization_by_id[row["external_id"]] = ref
            self.organization_by_name.setdefault(normalize_name(name), ref)

    # persons

    def person_from_row(self, parsed, row, values, db_by_id, db_by_email) -> Ref | None:
        """A deal's or lead's contact person by e-mail, else by name within its organization (created if new)."""
        email = row.get("person_email") or row.get("email")
        name = row.get("person") or " ".join(
            part for part in (row.get("first_name"), row.get("last_name")) if part
        )
        if not email and not name:
            return None
        if email:
            ref = self.person_by_email.get(email) or (db_by_email[email].pk if email in db_by_email else None)
            if ref is not None:
                return ref
        key = f"person:{email or normalize_name(name)}:{values.get('organization')}"
        if key in self.person_by_email:
            return self.person_by_email[key]
        first, _space, last = (name or "").strip().partition(" ")
        if row.get("first_name") or row.get("last_name"):
            first, last = row.get("first_name", ""), row.get("last_name", "")
        organization = values.get("organization")
        if not email and isinstance(organization, int):
            # A name without an e-mail address is the same person when an earlier import made them there.
            found = (
                Person.objects.filter(
                    organization_id=organization, first_name=first[:100], last_name=last[:100]
                )
                .order_by("id")
                .values_list("pk", flat=True)
                .first()
            )
            if found is not None:
                self.person_by_email[key] = found
                return found
        self.plan.persons.append(
            RecordOp(
                parsed.name,
                row[LINE],
                key,
                {
                    "first_name": first[:100],
                    "last_name": last[:100],
                    "email": email or "",
                    "phone": str(row.get("phone", ""))[:40],
                    "organization": values.get("organization"),
                    "owner": None,
                },
            )
        )
        self.plan.counts.setdefault(Entity.PERSONS, Counts()).create += 1
        self.person_by_email[key] = key
        if email:
            self.person_by_email[email] = key
        return key

    def load_persons(self, rows: list[dict[str, Any]]) -> tuple[dict, dict]:
        by_id = self.existing(Person, [row["external_id"] for row in rows if row.get("external_id")])
        emails = sorted(
            {
                str(row.get("email") or row.get("person_email"))
                for row in rows
                if row.get("email") or row.get("person_email")
            }
        )
        by_email: dict[str, Person] = {}
        for person in self.found_once(
            self._persons_by_email,
            emails,
            lambda chunk: ((found.email, found) for found in Person.objects.filter(email__in=chunk)),
        ):
            by_email.setdefault(person.email.lower(), person)
        return by_id, by_email

    def build_persons(self) -> None:
        rows = [row for _parsed, row in self.rows(Entity.PERSONS)]
        if not rows:
            return
        org_by_id, org_by_name = self.load_organizations(rows)
        existing, by_email = self.load_persons(rows)
        counts = self.plan.counts[Entity.PERSONS]
        for parsed, row in self.rows(Entity.PERSONS):
            first, last = row.get("first_name", ""), row.get("last_name", "")
            if not (first or last) and row.get("full_name"):
                first, _space, last = row["full_name"].strip().partition(" ")
            if not (first or last or row.get("email")):
                self.error(parsed, row, "last_name", "", _("A person needs a name or an e-mail address."))
            values: dict[str, Any] = {"first_name": first[:100], "last_name": last[:100]}
            for key, limit in (("email", 254), ("phone", 40), ("job_title", 120)):
                if key in row:
                    values[key] = str(row[key])[:limit]
            if row.get("organization_id") or row.get("organization"):
                values["organization"] = self.organization_ref(parsed, row, org_by_id, org_by_name)
            if "owner" in row:
                values["owner"] = self.owner(parsed, row)
            if row.get(REJECTED):
                continue
            record = existing.get(row.get("external_id", ""))
            if record is None and not row.get("external_id") and row.get("email"):
                record = by_email.get(row["email"])  # no id: the e-mail address is the person's identity
            key = (
                f"person:id:{row['external_id']}"
                if row.get("external_id")
                else f"person:line:{parsed.name}:{row[LINE]}"
            )
            if record is not None:
                ref: Ref = record.pk
                if _differs(record, values):
                    self.plan.persons.append(RecordOp(parsed.name, row[LINE], key, values, record))
                    counts.update += 1
                else:
                    counts.skip += 1
            else:
                ref = key
                values["external_id"] = row.get("external_id", "")
                self.plan.persons.append(RecordOp(parsed.name, row[LINE], key, values))
                counts.create += 1
            if row.get("external_id"):
                self.person_by_id[row["external_id"]] = ref
            if row.get("email"):
                self.person_by_email.setdefault(row["email"], ref)

"""Organization and person pages: lists (search, filters, sort, pages), detail pages edited in place, new
ones, activities logged from a contact, and the autocomplete other forms use to pick or create one."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dealflow.accounts.models import User
from dealflow.accounts.selectors import user_get_assignable_for_user
from dealflow.contacts.models import Organization, Person
from dealflow.contacts.selectors import (
    contact_editable_q,
    organization_duplicates_for_user,
    organization_get_for_user,
    organization_list_for_user,
    person_duplicates_for_user,
    person_get_for_user,
    person_list_for_user,
)
from dealflow.contacts.services import organization_create, person_create
from dealflow.core import clock
from dealflow.core.errors import ApplicationError, PermissionDeniedError
from dealflow.core.pagination import CappedPaginator
from dealflow.core.parameters import is_number
from dealflow.deals.selectors import deal_get_for_user, user_can_write, user_check_can_write
from dealflow.deals.services import activity_create
from dealflow.directory.selectors import contact_merge_list_for_user, contact_overview_for_user
from dealflow.directory.services import (
    organization_change,
    organization_merge,
    person_change,
    person_erase,
    person_export,
    person_merge,
)
from dealflow.tags.selectors import tag_names_map
from dealflow.web.forms import form_add_application_error
from dealflow.web.forms.contacts import ContactFilterForm, OrganizationForm, PersonForm
from dealflow.web.forms.deals import DealActivityForm
from dealflow.web.views.deal import organization_for_name
from dealflow.web.views.trash import delete_context
from dealflow.web.views.workspace import (
    AuthenticatedRequest,
    attach_for_template,
    is_htmx,
    permission_errors_as_403,
)

PAGE_SIZE = 50
AUTOCOMPLETE_LIMIT = 8


def _query_without_page(query: QueryDict) -> str:
    copy = query.copy()
    copy.pop("page", None)
    return copy.urlencode()


def _list(request: AuthenticatedRequest, *, people: bool) -> HttpResponse:
    user = request.user
    form = ContactFilterForm(request.GET or None, user=user, people=people)
    selector = person_list_for_user if people else organization_list_for_user
    contacts = selector(user=user).none()
    if not request.GET:
        contacts = selector(user=user)
    elif form.is_valid():
        try:
            contacts = selector(user=user, **form.filters())
        except ApplicationError as error:
            form_add_application_error(form, error)
    page = CappedPaginator(contacts, PAGE_SIZE).get_page(request.GET.get("page"))
    tags = tag_names_map(
        entity="person" if people else "organization", object_ids=[contact.pk for contact in page.object_list]
    )
    for contact in page.object_list:
        attach_for_template(contact, tag_names=tags.get(contact.pk, []))
    context = {
        "form": form,
        "page": page,
        "people": people,
        "query": _query_without_page(request.GET),
        "is_filtered": any(value for name, value in request.GET.items() if name not in {"order", "page"}),
        "can_write": user_can_write(user=user),
    }
    return render(request, "web/contacts/list.html", context)


@login_required
@require_GET
def organization_list(request: AuthenticatedRequest) -> HttpResponse:
    """Organizations the user may see: search, filter by owner, team, country and tag, sort, 50 a page."""
    return _list(request, people=False)


@login_required
@require_GET
def person_list(request: AuthenticatedRequest) -> HttpResponse:
    """People the user may see, filtered like organizations (country is their organization's)."""
    return _list(request, people=True)


def _owner(form_owner: User | None, user: User) -> User | None:
    if form_owner is None or form_owner.pk == user.pk:
        return form_owner
    return user_get_assignable_for_user(user_id=form_owner.pk, user=user, field="owner")


def _organization_data(form: forms.BaseForm, user: User) -> dict[str, Any]:
    data = dict(form.cleaned_data)
    data["owner"] = _owner(data["owner"], user)
    return data


def _person_data(form: forms.BaseForm, user: User) -> dict[str, Any]:
    data = dict(form.cleaned_data)
    data["owner"] = _owner(data["owner"], user)
    data["organization"] = organization_for_name(name=data["organization"], user=user)
    return data


def _can_edit(contact: Organization | Person, user: User) -> bool:
    return type(contact).objects.filter(contact_editable_q(user=user), pk=contact.pk).exists()


def _initial(contact: Organization | Person) -> dict[str, Any]:
    if isinstance(contact, Organization):
        names: tuple[str, ...] = ("name", "website", "industry", "country", "owner")
        return {name: getattr(contact, name) for name in names}
    names = ("first_name", "last_name", "email", "phone", "job_title", "owner")
    return {
        **{name: getattr(contact, name) for name in names},
        "organization": contact.organization.name if contact.organization else "",
    }


def _detail_context(
    request: AuthenticatedRequest,
    contact: Organization | Person,
    *,
    edit_form: Any = None,
    activity_form: DealActivityForm | None = None,
) -> dict[str, Any]:
    user = request.user
    is_person = isinstance(contact, Person)
    form_class = PersonForm if is_person else OrganizationForm
    overview = contact_overview_for_user(contact=contact, user=user)
    can_edit = _can_edit(contact, user)
    return {
        "contact": contact,
        "is_person": is_person,
        "overview": overview,
        "can_edit": can_edit,
        "can_write": user_can_write(user=user),
        "edit_form": edit_form or form_class(user=user, initial=_initial(contact)),
        "activity_form": activity_form or DealActivityForm(),
        "activity_targets": _activity_targets(contact, overview),
        "tags": tag_names_map(entity="person" if is_person else "organization", object_ids=[contact.pk]).get(
            contact.pk, []
        ),
        "now": clock.now(),
    } | (delete_context(contact=contact) if can_edit else {})


def _activity_targets(contact: Organization | Person, overview: Any) -> list[tuple[str, str]]:
    """What an activity logged on this page may be about: the person, or the organization's people and
    open deals (an activity hangs on a deal, a lead or a person)."""
    if isinstance(contact, Person):
        targets = [(f"person:{contact.pk}", str(contact))]
    else:
        targets = [(f"person:{person.pk}", str(person)) for person in overview.people]
    targets += [
        (f"deal:{deal.pk}", _("Deal: %(title)s") % {"title": deal.title}) for deal in overview.open_deals
    ]
    return targets


def _render_detail(
    request: AuthenticatedRequest, contact: Organization | Person, *, status: int = 200, **extra: Any
):
    context = _detail_context(request, contact, **extra)
    if is_htmx(request):
        return render(request, "web/contacts/_detail_body.html", context)
    return render(request, "web/contacts/detail.html", context, status=status)


@login_required
@require_GET
def organization_detail(request: AuthenticatedRequest, organization_id: int) -> HttpResponse:
    """An organization: details, people, open, won and lost deals, leads, activities, notes, timeline."""
    organization = organization_get_for_user(organization_id=organization_id, user=request.user)
    return _render_detail(request, organization)


@login_required
@require_GET
def person_detail(request: AuthenticatedRequest, person_id: int) -> HttpResponse:
    """A person: details, deals, leads, activities, notes and timeline."""
    person = person_get_for_user(person_id=person_id, user=request.user)
    return _render_detail(request, person)


def _save(request: AuthenticatedRequest, contact: Organization | Person) -> HttpResponse:
    user = request.user
    is_person = isinstance(contact, Person)
    form = (PersonForm if is_person else OrganizationForm)(request.POST, user=user)
    if form.is_valid():
        try:
            with transaction.atomic():
                if isinstance(contact, Person):
                    person_change(person=contact, data=_person_data(form, user), by=user)
                else:
                    organization_change(organization=contact, data=_organization_data(form, user), by=user)
        except PermissionDeniedError:
            raise
        except ApplicationError as error:
            form_add_application_error(form, error)
        else:
            if not is_htmx(request):
                messages.success(request, _("Saved."))
                return HttpResponseRedirect(request.path.rsplit("edit/", 1)[0])
            contact.refresh_from_db()
            response = _render_detail(request, contact)
            response["HX-Trigger"] = json.dumps({"dealflow:toast": {"text": _("Saved."), "level": "success"}})
            return response
    return _render_detail(request, contact, status=400, edit_form=form)


@login_required
@require_POST
@permission_errors_as_403
def organization_edit(request: AuthenticatedRequest, organization_id: int) -> HttpResponse:
    """Save the organization's details (edited in place on its page)."""
    organization = organization_get_for_user(
        organization_id=organization_id, user=request.user, for_write=True
    )
    return _save(request, organization)


@login_required
@require_POST
@permission_errors_as_403
def person_edit(request: AuthenticatedRequest, person_id: int) -> HttpResponse:
    """Save the person's details (edited in place on their page)."""
    person = person_get_for_user(person_id=person_id, user=request.user, for_write=True)
    return _save(request, person)


def _create(request: AuthenticatedRequest, *, people: bool) -> HttpResponse:
    user = request.user
    user_check_can_write(user=user)
    form_class = PersonForm if people else OrganizationForm
    initial = {"organization": request.GET.get("organization", "")} if people else {}
    form = form_class(request.POST or None, user=user, initial=initial)
    duplicates: list[Any] = []
    if request.method == "POST" and form.is_valid() and not request.POST.get("confirm_new"):
        duplicates = _duplicates(form, user=user, people=people)
    if request.method == "POST" and form.is_valid() and not duplicates:
        try:
            with transaction.atomic():
                if people:
                    contact: Any = person_create(by=user, **_person_data(form, user))
                else:
                    contact = organization_create(by=user, **_organization_data(form, user))
        except PermissionDeniedError:
            raise
        except ApplicationError as error:
            form_add_application_error(form, error)
        else:
            messages.success(request, _("Created."))
            name = "web:person_detail" if people else "web:organization_detail"
            return HttpResponseRedirect(reverse(name, args=[contact.pk]))
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "people": people, "duplicates": duplicates}
    return render(request, "web/contacts/create.html", context, status=status)


def _duplicates(form: Any, *, user: User, people: bool) -> list[Any]:
    """Likely duplicates of what the form holds (the user confirms "create anyway" to go on)."""
    data = form.cleaned_data
    if not people:
        return organization_duplicates_for_user(user=user, name=data["name"], website=data["website"])
    organization = (
        organization_list_for_user(user=user).filter(name__iexact=data["organization"].strip()).first()
    )
    return person_duplicates_for_user(
        user=user,
        first_name=data["first_name"],
        last_name=data["last_name"],
        email=data["email"],
        phone=data["phone"],
        organization=organization,
    )


@login_required
@require_http_methods(["GET", "POST"])
@permission_errors_as_403
def organization_create_view(request: AuthenticatedRequest) -> HttpResponse:
    """A new organization."""
    return _create(request, people=False)


@login_required
@require_http_methods(["GET", "POST"])
@permission_errors_as_403
def person_create_view(request: AuthenticatedRequest) -> HttpResponse:
    """A new person."""
    return _create(request, people=True)


def _activity(request: AuthenticatedRequest, contact: Organization | Person) -> HttpResponse:
    """Log or plan an activity about the contact (its person, or one of its people or open deals)."""
    user = request.user
    user_check_can_write(user=user)
    form = DealActivityForm(request.POST)
    if form.is_valid():
        try:
            deal, person = _activity_target(request.POST.get("target", ""), contact, user)
            data = form.cleaned_data
            activity_create(
                owner=user,
                by=user,
                deal=deal,
                person=person,
                kind=data["kind"],
                subject=data["subject"],
                notes=data["notes"],
                due_at=data["due_at"],
                done_at=(data["due_at"] or clock.now()) if data["is_done"] else None,
                origin="web",
            )
        except ApplicationError as error:
            form_add_application_error(form, error)
        else:
            messages.success(request, _("Activity added."))
            return HttpResponseRedirect(request.path.rsplit("activities/", 1)[0])
    return _render_detail(request, contact, status=400, activity_form=form)


def _activity_target(target: str, contact: Organization | Person, user: User) -> tuple[Any, Person | None]:
    kind, _sep, raw = target.partition(":")
    if not is_number(raw):
        if isinstance(contact, Person):
            return None, contact
        raise ApplicationError(_("Pick a person or a deal of this organization."), field="target")
    if kind == "deal":
        deal = deal_get_for_user(deal_id=int(raw), user=user)
        column = "organization_id" if isinstance(contact, Organization) else "person_id"
        if getattr(deal, column) != contact.pk:
            raise ApplicationError(_("Pick a deal of this contact."), field="target")
        return deal, deal.person if deal.person_id else (contact if isinstance(contact, Person) else None)
    if kind == "person":
        person = person_get_for_user(person_id=int(raw), user=user, field="target")
        if isinstance(contact, Organization) and person.organization_id != contact.pk:
            raise ApplicationError(_("Pick a person of this organization."), field="target")
        if isinstance(contact, Person) and person.pk != contact.pk:
            raise ApplicationError(_("Pick this person."), field="target")
        return None, person
    raise ApplicationError(_("Pick a person or a deal of this organization."), field="target")


@login_required
@require_POST
@permission_errors_as_403
def organization_activity_create(request: AuthenticatedRequest, organization_id: int) -> HttpResponse:
    """Log a call, meeting, e-mail or note about one of the organization's people or open deals."""
    organization = organization_get_for_user(organization_id=organization_id, user=request.user)
    return _activity(request, organization)


@login_required
@require_POST
@permission_errors_as_403
def person_activity_create(request: AuthenticatedRequest, person_id: int) -> HttpResponse:
    """Log a call, meeting, e-mail or note with the person."""
    person = person_get_for_user(person_id=person_id, user=request.user)
    return _activity(request, person)


def _typed(request: AuthenticatedRequest) -> str:
    """What the user typed: ``q``, or the value of the picker's own field (HTMX sends it by name)."""
    for name, value in request.GET.items():
        text = str(value).strip()
        if name != "page" and text:
            return text[:200]
    return ""


@login_required
@require_GET
def organization_autocomplete(request: AuthenticatedRequest) -> HttpResponse:
    """Organizations whose name starts with (or contains) what was typed, plus "create" for a new name."""
    typed = _typed(request)
    matches: list[Organization] = []
    if typed:
        visible = organization_list_for_user(user=request.user)
        matches = list(visible.filter(name__istartswith=typed)[:AUTOCOMPLETE_LIMIT])
        if len(matches) < AUTOCOMPLETE_LIMIT:
            matches += list(
                visible.filter(name__icontains=typed).exclude(pk__in=[match.pk for match in matches])[
                    : AUTOCOMPLETE_LIMIT - len(matches)
                ]
            )
    exact = any(match.name.casefold() == typed.casefold() for match in matches)
    context = {
        "options": [{"id": match.pk, "name": match.name, "detail": match.country} for match in matches],
        "typed": typed,
        "offer_create": bool(typed) and not exact and user_can_write(user=request.user),
    }
    return render(request, "web/contacts/_options.html", context)


@login_required
@require_GET
def person_autocomplete(request: AuthenticatedRequest) -> HttpResponse:
    """People whose name or e-mail contains what was typed."""
    typed = _typed(request)
    matches = (
        list(person_list_for_user(user=request.user, search=typed)[:AUTOCOMPLETE_LIMIT]) if typed else []
    )
    context = {
        "options": [
            {
                "id": match.pk,
                "name": str(match),
                "detail": match.organization.name if match.organization else "",
            }
            for match in matches
        ],
        "typed": typed,
        "offer_create": False,
    }
    return render(request, "web/contacts/_options.html", context)


@login_required
@require_GET
def person_export_view(request: AuthenticatedRequest, person_id: int) -> HttpResponse:
    """Download everything held about the person as JSON (written to the audit log)."""
    person = person_get_for_user(person_id=person_id, user=request.user)
    export = person_export(person=person, by=request.user)
    response = HttpResponse(
        json.dumps(export, indent=2, ensure_ascii=False), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="person-{person.pk}.json"'
    return response


@login_required
@require_POST
@permission_errors_as_403
def person_erase_view(request: AuthenticatedRequest, person_id: int) -> HttpResponse:
    """Anonymise the person everywhere; their deals keep their figures."""
    person = person_get_for_user(person_id=person_id, user=request.user, for_write=True)
    person_erase(person=person, by=request.user)
    messages.success(request, _("The person's personal data is erased."))
    return HttpResponseRedirect(reverse("web:person_detail", args=[person.pk]))


def _merge(request: AuthenticatedRequest, contact: Organization | Person) -> HttpResponse:
    """GET: the likely duplicates of this contact; POST ``other``: fold that one into this one."""
    user = request.user
    is_person = isinstance(contact, Person)
    error = ""
    if request.method == "POST":
        user_check_can_write(user=user)
        raw = request.POST.get("other", "")
        try:
            if not is_number(raw):
                raise ApplicationError(_("Pick the duplicate to merge into this one."), field="other")
            if isinstance(contact, Person):
                other = person_get_for_user(person_id=int(raw), user=user, for_write=True, field="other")
                merge = person_merge(survivor=contact, merged=other, by=user)
            else:
                other_organization = organization_get_for_user(
                    organization_id=int(raw), user=user, for_write=True, field="other"
                )
                merge = organization_merge(survivor=contact, merged=other_organization, by=user)
        except PermissionDeniedError:
            raise
        except ApplicationError as failure:
            error = failure.message
        else:
            moved = sum(len(ids) for ids in merge.moved.values())
            messages.success(
                request,
                _("Merged “%(merged)s” into this one; %(count)s records moved.")
                % {"merged": merge.merged_name, "count": moved},
            )
            name = "web:person_detail" if is_person else "web:organization_detail"
            return HttpResponseRedirect(reverse(name, args=[contact.pk]))
    if isinstance(contact, Person):
        duplicates = person_duplicates_for_user(
            user=user,
            first_name=contact.first_name,
            last_name=contact.last_name,
            email=contact.email,
            phone=contact.phone,
            organization=contact.organization,
            exclude_id=contact.pk,
        )
    else:
        duplicates = organization_duplicates_for_user(
            user=user, name=contact.name, website=contact.website, exclude_id=contact.pk
        )
    context = {"contact": contact, "is_person": is_person, "duplicates": duplicates, "error": error}
    return render(request, "web/contacts/merge.html", context, status=400 if error else 200)


@login_required
@require_http_methods(["GET", "POST"])
@permission_errors_as_403
def organization_merge_view(request: AuthenticatedRequest, organization_id: int) -> HttpResponse:
    """Likely duplicates of an organization, and merging one of them into it."""
    organization = organization_get_for_user(
        organization_id=organization_id, user=request.user, for_write=True
    )
    return _merge(request, organization)


@login_required
@require_http_methods(["GET", "POST"])
@permission_errors_as_403
def person_merge_view(request: AuthenticatedRequest, person_id: int) -> HttpResponse:
    """Likely duplicates of a person, and merging one of them into them."""
    person = person_get_for_user(person_id=person_id, user=request.user, for_write=True)
    return _merge(request, person)


@login_required
@require_GET
@permission_errors_as_403
def merge_list(request: AuthenticatedRequest) -> HttpResponse:
    """Every merge, newest first, with what the merged record held and what moved (admins review them)."""
    page = CappedPaginator(contact_merge_list_for_user(user=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "web/contacts/merges.html", {"page": page, "query": ""})

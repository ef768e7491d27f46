"""The import wizard in the browser and the API: upload, preview, answer, confirm, progress; exports."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from dealflow.accounts.models import AuditEntry
from dealflow.accounts.services import token_create
from dealflow.deals.models import Deal
from dealflow.deals.tests.factories import DealFactory, stage_named
from dealflow.importers.models import ImportJob, ImportStatus
from dealflow.importers.tests.conftest import FILES

pytestmark = pytest.mark.django_db


def _upload(name: str, content: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(
        name, content if content is not None else (FILES / name).read_bytes(), content_type="text/csv"
    )


@pytest.fixture
def admin_client(client, admin_user, django_capture_on_commit_callbacks):
    client.force_login(admin_user)
    return client


def _run(callbacks, action):
    """Run a request; the background tasks it queues (immediate backend) run on commit."""
    with callbacks(execute=True):
        return action()


def test_wizard_upload_answer_confirm(admin_client, rep, django_capture_on_commit_callbacks):
    response = _run(
        django_capture_on_commit_callbacks,
        lambda: admin_client.post(reverse("web:import_start"), {"file": _upload("hubspot_deals.csv")}),
    )
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("web:import_detail", args=[job.pk])
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEWED

    page = admin_client.get(reverse("web:import_detail", args=[job.pk])).content.decode()
    assert "Stage &#x27;Contract Sent&#x27; does not exist in this pipeline" in page
    assert 'data-question="stages:Contract Sent"' in page
    assert "Answer the questions above" in page

    form = {"entity-0": "deals", "answer-0": "create", "source": "hubspot"}
    for index, header in enumerate(job.preview["sheets"][0]["headers"]):
        form[f"column-0-{index}"] = job.preview["sheets"][0]["columns"].get(header, "")
    _run(
        django_capture_on_commit_callbacks,
        lambda: admin_client.post(reverse("web:import_options", args=[job.pk]), form),
    )
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEWED and job.preview["questions"] == []
    assert job.preview["counts"]["deals"] == {"create": 4, "update": 0, "skip": 0, "reject": 0, "wait": 0}
    assert Deal.objects.count() == 0  # nothing written before the confirmation

    _run(
        django_capture_on_commit_callbacks,
        lambda: admin_client.post(reverse("web:import_confirm", args=[job.pk])),
    )
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and job.result["created"] == {"deals": 4}
    assert Deal.objects.count() == 4
    page = admin_client.get(reverse("web:import_detail", args=[job.pk])).content.decode()
    assert 'data-created="deals">4<' in page

    progress = admin_client.get(reverse("web:import_progress", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert progress["HX-Refresh"] == "true" and 'value="100"' in progress.content.decode()


def test_wizard_shows_problems_and_imports_only_valid_rows_when_asked(
    admin_client, rep, django_capture_on_commit_callbacks
):
    text = b"Deal ID,Title,Amount,Owner\n1,Good one,100,rep\n2,Bad one,lots,rep\n"
    _run(
        django_capture_on_commit_callbacks,
        lambda: admin_client.post(reverse("web:import_start"), {"file": _upload("mine.csv", text)}),
    )
    job = ImportJob.objects.get()
    page = admin_client.get(reverse("web:import_detail", args=[job.pk])).content.decode()
    assert 'data-problem-line="3"' in page and "&#x27;lots&#x27; is not a number." in page
    assert 'name="keep_valid" required' in page

    _run(
        django_capture_on_commit_callbacks,
        lambda: admin_client.post(reverse("web:import_confirm", args=[job.pk])),
    )
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEWED and not Deal.objects.exists()  # refused without the tick

    _run(
        django_capture_on_commit_callbacks,
        lambda: admin_client.post(reverse("web:import_confirm", args=[job.pk]), {"keep_valid": "on"}),
    )
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and Deal.objects.get().title == "Good one"
    rejected = admin_client.get(reverse("web:import_rejects", args=[job.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(rejected.streaming_content).decode("utf-8-sig"))))
    assert rows[1][:5] == ["mine.csv", "3", "'lots' is not a number.", "2", "Bad one"]


def test_wizard_refuses_a_binary_upload_with_the_reason(admin_client, django_capture_on_commit_callbacks):
    _run(
        django_capture_on_commit_callbacks,
        lambda: admin_client.post(
            reverse("web:import_start"), {"file": _upload("photo.csv", bytes(range(256)) * 100)}
        ),
    )
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.FAILED and "binary data" in job.error
    page = admin_client.get(reverse("web:import_detail", args=[job.pk])).content.decode()
    assert "data-import-failed" in page and "Nothing was written." in page


def test_save_mapping_from_the_wizard(admin_client, rep, django_capture_on_commit_callbacks):
    _run(
        django_capture_on_commit_callbacks,
        lambda: admin_client.post(reverse("web:import_start"), {"file": _upload("pipedrive_deals.csv")}),
    )
    job = ImportJob.objects.get()
    admin_client.post(reverse("web:import_mapping_save", args=[job.pk]), {"name": "Pipedrive monthly"})
    from dealflow.importers.models import ImportMapping

    assert ImportMapping.objects.get().name == "Pipedrive monthly"


def test_only_admins_and_managers_import_and_jobs_are_private(
    client, rep, manager, admin_user, django_capture_on_commit_callbacks
):
    client.force_login(rep)
    assert client.get(reverse("web:import_start")).status_code == 403
    client.force_login(admin_user)
    _run(
        django_capture_on_commit_callbacks,
        lambda: client.post(reverse("web:import_start"), {"file": _upload("hubspot_deals.csv")}),
    )
    job = ImportJob.objects.get()
    client.force_login(manager)
    assert client.get(reverse("web:import_start")).status_code == 200
    assert client.get(reverse("web:import_detail", args=[job.pk])).status_code == 404


def test_deal_export_honours_filters_visibility_and_neutralises_formulas(client, rep, outsider, pipeline):
    DealFactory(owner=rep, title='=HYPERLINK("http://evil")', amount=Decimal("10"))
    DealFactory(owner=rep, title="Proposal deal", stage=stage_named("Proposal"), amount=Decimal("1250.50"))
    DealFactory(owner=outsider, title="Not yours", stage=stage_named("Proposal"))
    client.force_login(rep)

    response = client.get(reverse("web:deal_export"), {"stage": stage_named("Proposal").pk})

    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff") and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert [(row["Title"], row["Amount"]) for row in rows] == [("Proposal deal", "1250.50")]
    everything = b"".join(client.get(reverse("web:deal_export")).streaming_content).decode("utf-8")
    assert "'=HYPERLINK" in everything and "Not yours" not in everything
    assert AuditEntry.objects.filter(action="export.deals", actor=rep).count() == 2

    xlsx = client.get(reverse("web:deal_export"), {"format": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    titles = {row[3] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert titles == {'\'=HYPERLINK("http://evil")', "Proposal deal"}
    cell = next(row for row in sheet.iter_rows(min_row=2) if str(row[3].value).startswith("'="))[3]
    assert cell.data_type == "s"  # a string, never a formula


def test_export_other_entities_and_bad_filters(client, rep, manager, outsider):
    DealFactory(owner=rep, title="Ours")
    DealFactory(owner=outsider, title="Theirs")
    client.force_login(manager)
    events = b"".join(client.get(reverse("web:export", args=["events"])).streaming_content).decode("utf-8")
    assert "Ours" in events and "Theirs" not in events
    assert client.get(reverse("web:export", args=["shoes"])).status_code == 404
    assert client.get(reverse("web:deal_export"), {"close_from": "yesterday"}).status_code == 400
    assert client.get(reverse("web:deal_export")).status_code == 200
    client.logout()
    assert client.get(reverse("web:deal_export")).status_code == 302


def test_api_upload_poll_answer_confirm_and_export(
    client, admin_user, rep, django_capture_on_commit_callbacks
):
    _token, secret = token_create(user=admin_user, name="script")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/imports", {"file": _upload("hubspot_deals.csv")}, **headers)
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    job = client.get(f"/api/v1/imports/{job_id}", **headers).json()
    assert job["status"] == "previewed" and job["preview"]["questions"][0]["key"] == "Contract Sent"

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/imports/{job_id}/options",
            {"stages": {"Contract Sent": "create"}},
            content_type="application/json",
            **headers,
        )
    assert response.json()["preview"]["questions"] == []
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/imports/{job_id}/confirm",
            {"keep_valid": False},
            content_type="application/json",
            **headers,
        )
    job = client.get(f"/api/v1/imports/{job_id}", **headers).json()
    assert job["status"] == "done" and job["result"]["created"] == {"deals": 4}
    assert job["progress"]["percent"] == 100

    bad = client.post(
        f"/api/v1/imports/{job_id}/options",
        {"dates": {"Created": "ydm"}},
        content_type="application/json",
        **headers,
    )
    assert bad.status_code == 400 and bad.json()["field"] == "mapping"
    export = client.get("/api/v1/exports/deals", {"status": "won"}, **headers)
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert sorted(row["Title"] for row in rows) == ["Alpha deal", "Delta deal"]

    _rep_token, rep_secret = token_create(user=rep, name="rep")
    assert client.get("/api/v1/imports", HTTP_AUTHORIZATION=f"Bearer {rep_secret}").status_code == 403


def test_wizard_lists_unmapped_columns_and_answers_undated_rows_with_a_fixed_date(
    admin_client, rep, django_capture_on_commit_callbacks
):
    from dealflow.importers.tests.test_real_exports import PIPEDRIVE

    content = (FILES / "real" / "pipedrive_deals_export.csv").read_bytes()
    _run(
        django_capture_on_commit_callbacks,
        lambda: admin_client.post(
            reverse("web:import_start"), {"file": _upload("pipedrive_deals_export.csv", content)}
        ),
    )
    job = ImportJob.objects.get()
    form = {"entity-0": "deals", "source": "pipedrive"}
    sheet = job.preview["sheets"][0]
    for index, header in enumerate(sheet["headers"]):
        form[f"column-0-{index}"] = sheet["columns"].get(header, "")  # every other column: (do not import)
    for index, question in enumerate(job.preview["questions"]):
        if question["kind"] == "stages":
            form[f"answer-{index}"] = PIPEDRIVE["stages"][question["key"]]
    _run(
        django_capture_on_commit_callbacks,
        lambda: admin_client.post(reverse("web:import_options", args=[job.pk]), form),
    )
    job.refresh_from_db()
    page = admin_client.get(reverse("web:import_detail", args=[job.pk])).content.decode()
    assert job.preview["is_ready"] and job.preview["unmapped"] == 0
    assert (
        'data-question="undated:pipedrive_deals_export.csv"' in page
        and 'data-question-default="skip"' in page
    )
    assert "Everything checks out" in page

    index = next(n for n, question in enumerate(job.preview["questions"]) if question["kind"] == "undated")
    answer = {**form, f"answer-{index}": "date:", f"answer-date-{index}": "2026-02-01"}
    _run(
        django_capture_on_commit_callbacks,
        lambda: admin_client.post(reverse("web:import_options", args=[job.pk]), answer),
    )
    job.refresh_from_db()
    assert job.options["undated"] == {"pipedrive_deals_export.csv": "date:2026-02-01"}
    assert job.preview["counts"]["deals"]["create"] == 4

"""Import jobs never stay stuck (a lease with a heartbeat, retry, delete, sweep) and odd files are refused
with a clear sentence: text renamed .xlsx, a workbook with a DTD."""

from __future__ import annotations

import datetime as dt
import os
import zipfile
from io import StringIO
from pathlib import Path

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from dealflow.accounts.services import token_create
from dealflow.core.errors import ApplicationError
from dealflow.importers import services
from dealflow.importers.models import ImportJob, ImportStatus
from dealflow.importers.services import (
    heartbeat_path,
    import_job_create,
    import_job_delete,
    import_job_preview,
    import_job_retry,
    import_jobs_expire,
    import_preview,
    import_uploads_sweep,
)
from dealflow.importers.tests.conftest import FILES, NOW

pytestmark = pytest.mark.django_db


def _job(admin_user, name="hubspot_deals.csv", content: bytes | None = None) -> ImportJob:
    data = content if content is not None else (FILES / name).read_bytes()
    return import_job_create(by=admin_user, upload=SimpleUploadedFile(name, data))


def _running(job: ImportJob, status=ImportStatus.APPLYING) -> ImportJob:
    ImportJob.objects.filter(pk=job.pk).update(status=status)
    job.refresh_from_db()
    return job


def _age(path: Path, seconds: float) -> None:
    moment = NOW.timestamp() - seconds
    os.utime(path, (moment, moment))


def test_text_renamed_xlsx_is_refused_clearly(tmp_path, admin_user):
    path = tmp_path / "deals.xlsx"
    path.write_text("Title,Amount\nA,1\n")

    with pytest.raises(ApplicationError, match="named like an Excel workbook or ZIP file but is not one"):
        import_preview(path=path, by=admin_user)


def test_xlsx_with_a_dtd_fails_cleanly_and_the_job_does_not_hang(tmp_path, admin_user):
    book = openpyxl.Workbook()
    book.active.append(["Title", "Amount"])
    book.active.append(["A", 1])
    clean = tmp_path / "clean.xlsx"
    book.save(clean)
    bad = tmp_path / "bad.xlsx"
    with zipfile.ZipFile(clean) as source, zipfile.ZipFile(bad, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/workbook.xml":
                data = b'<!DOCTYPE lol [<!ENTITY lol "lol">]>' + data
            target.writestr(info, data)

    with pytest.raises(ApplicationError, match=r"document type declaration \(DTD\) in xl/workbook.xml"):
        import_preview(path=bad, by=admin_user)
    job = import_job_preview(job=_job(admin_user, "bad.xlsx", bad.read_bytes()))
    assert job.status == ImportStatus.FAILED and "DTD" in job.error


def test_an_unexpected_error_fails_the_job_with_the_reason(admin_user, monkeypatch):
    def explode(**_kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "plan_build", explode)
    job = import_job_preview(job=_job(admin_user))

    assert job.status == ImportStatus.FAILED
    assert "RuntimeError: disk on fire" in job.error and "nothing was written" in job.error
    assert not heartbeat_path(job).exists()  # the heartbeat stops with the job


def test_a_job_whose_heartbeat_stopped_expires_and_can_be_retried(admin_user, rep, settings):
    settings.DEALFLOW = {**settings.DEALFLOW, "IMPORT_LEASE_SECONDS": 60}
    job = _running(_job(admin_user))
    heartbeat_path(job).touch()
    _age(heartbeat_path(job), 30)
    assert import_jobs_expire() == 0  # alive: beat 30 s ago
    with pytest.raises(ApplicationError, match="being processed"):
        import_job_delete(job=job, by=admin_user)

    _age(heartbeat_path(job), 61)  # the worker died a minute ago
    assert import_jobs_expire() == 1
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED and "no sign of life for 60 seconds" in job.error

    job = import_job_retry(job=job, by=admin_user)  # the immediate task backend checks it at once
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEWED
    with pytest.raises(ApplicationError, match="Only a failed import"):
        import_job_retry(job=job, by=admin_user)


def test_a_job_never_picked_up_expires_after_the_queue_grace(admin_user, settings, time_machine):
    settings.DEALFLOW = {**settings.DEALFLOW, "IMPORT_QUEUE_SECONDS": 3600}
    job = _running(_job(admin_user), ImportStatus.PREVIEWING)
    assert import_jobs_expire(now=job.updated_at + dt.timedelta(minutes=59)) == 0
    assert import_jobs_expire(now=job.updated_at + dt.timedelta(minutes=61)) == 1

    import_job_delete(job=ImportJob.objects.get(pk=job.pk), by=admin_user)
    assert not ImportJob.objects.filter(pk=job.pk).exists()
    assert not Path(job.file_path).exists()


def test_sweep_deletes_uploads_of_dead_jobs_only(admin_user, import_dir):
    live = _job(admin_user)
    dead = _job(admin_user)
    ImportJob.objects.filter(pk=dead.pk).update(
        status=ImportStatus.FAILED, finished_at=NOW - dt.timedelta(days=8)
    )
    orphan = import_dir / "20250101-orphan"
    orphan.mkdir()
    (orphan / "upload.csv").write_text("x")
    _age(orphan, 2 * 24 * 3600)

    assert import_uploads_sweep() == 2

    assert Path(live.file_path).exists()
    assert not Path(dead.file_path).exists() and not orphan.exists()


def test_retry_and_delete_from_api_web_and_cli(client, admin_user, settings):
    settings.DEALFLOW = {**settings.DEALFLOW, "IMPORT_LEASE_SECONDS": 60}
    job = _running(_job(admin_user))
    heartbeat_path(job).touch()
    _age(heartbeat_path(job), 600)
    token = token_create(user=admin_user, name="cli")[1]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    answer = client.get(f"/api/v1/imports/{job.pk}", **headers).json()
    assert answer["status"] == "failed" and "no sign of life" in answer["error"]
    answer = client.post(f"/api/v1/imports/{job.pk}/retry", **headers)
    assert answer.status_code == 200 and answer.json()["status"] == "previewed"
    assert client.post(f"/api/v1/imports/{job.pk}/retry", **headers).status_code == 400
    assert client.delete(f"/api/v1/imports/{job.pk}", **headers).status_code == 204

    second = _running(_job(admin_user))
    ImportJob.objects.filter(pk=second.pk).update(status=ImportStatus.FAILED, error="boom")
    client.force_login(admin_user)
    page = client.get(reverse("web:import_detail", args=[second.pk])).content.decode()
    assert "data-import-retry" in page
    assert client.post(reverse("web:import_retry", args=[second.pk])).status_code == 302
    assert ImportJob.objects.get(pk=second.pk).status == ImportStatus.PREVIEWED

    out = StringIO()
    call_command("imports", "list", stdout=out)
    assert f"{second.pk:>6}  previewed" in out.getvalue()
    call_command("imports", "delete", str(second.pk), stdout=out)
    assert not ImportJob.objects.exists()
    with pytest.raises(ApplicationError, match="There is no import"):
        call_command("imports", "retry", str(second.pk))


def test_an_upload_over_the_limit_is_refused_before_it_is_read(client, admin_user, settings):
    settings.DEALFLOW = {**settings.DEALFLOW, "IMPORT_MAX_BYTES": 2 * 1024 * 1024}
    client.force_login(admin_user)
    response = client.generic(
        "POST",
        reverse("web:import_start"),
        data=b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(50 * 1024 * 1024),
    )
    assert response.status_code == 413 and b"larger than 2 MB" in response.content
    answer = client.generic("POST", "/api/v1/imports", data=b"", CONTENT_LENGTH=str(50 * 1024 * 1024))
    assert answer.status_code == 413 and answer.json()["field"] == "file"
    assert not ImportJob.objects.exists()


def test_a_zip_bomb_is_refused_from_its_declared_sizes(tmp_path, admin_user):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("deals.csv", b"Title,Amount\n" + b"0" * (40 * 1024 * 1024))

    with pytest.raises(ApplicationError, match=r"deals.csv unpacks to [\d,]+ times its packed size"):
        import_preview(path=path, by=admin_user)

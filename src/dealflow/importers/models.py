"""Saved column mappings and import jobs (the progress row the browser polls while a big file loads)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from dealflow.core.models import BaseModel


class ImportMapping(BaseModel):
    """A layout mapped once by a user and offered again for files with the same headers."""

    name = models.CharField(max_length=120, unique=True)
    entity = models.CharField(max_length=20)
    headers_key = models.CharField(max_length=64, db_index=True)  # sha256 of the sorted normalized headers
    headers = models.JSONField(default=list)
    options = models.JSONField(default=dict)  # ImportOptions.as_json()
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Uploaded")
    PREVIEWING = "previewing", _("Checking")
    PREVIEWED = "previewed", _("Checked")
    APPLYING = "applying", _("Importing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ImportJob(BaseModel):
    """One uploaded file on its way in: options, the preview's findings, progress and the outcome."""

    created_by = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    file_name = models.CharField(max_length=255)
    file_path = models.CharField(max_length=500)
    file_size = models.BigIntegerField(default=0)
    status = models.CharField(max_length=12, choices=ImportStatus.choices, default=ImportStatus.UPLOADED)
    options = models.JSONField(default=dict)
    preview = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(default=0)
    progress_label = models.CharField(max_length=120, blank=True, default="")
    error = models.TextField(blank=True, default="")
    rejects_path = models.CharField(max_length=500, blank=True, default="")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.status})"

    @property
    def percent(self) -> int:
        if self.status == ImportStatus.DONE:
            return 100
        if not self.progress_total:
            return 0
        return max(0, min(100, int(self.progress_done * 100 / self.progress_total)))

    @property
    def is_running(self) -> bool:
        return self.status in (ImportStatus.PREVIEWING, ImportStatus.APPLYING)

from django.db import models


class BaseModel(models.Model):
    """Timestamps every table carries."""

    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        # created_at is settable (imports backdate records); default it once, never overwrite it.
        if self.created_at is None:
            from dealflow.core.clock import now

            self.created_at = now()
        super().save(*args, **kwargs)

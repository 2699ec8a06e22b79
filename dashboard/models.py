"""Daily totals of the audit log, kept for days that are over.

Audit entries are append-only, so a day's totals of settled saves never change once the day is
over: `rollup_dashboard` (the periodic job) works them out once, and the dashboard reads them
from here. (Queued saves are not kept here: a later entry may settle one any day.) A year on the
dashboard then sums a few thousand of these rows instead of half a million entries.
"""

from django.db import models


class RolledUpDay(models.Model):
    """A day whose totals are stored below (also when it had no saves at all)."""

    day = models.DateField(primary_key=True)
    rolled_up_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return str(self.day)


class DailySaves(models.Model):
    """How many settled saves (edits, reverts, undos) one user made on one day, with one outcome."""

    day = models.DateField()
    username = models.CharField(max_length=150)
    outcome = models.CharField(max_length=16)
    saves = models.PositiveIntegerField()

    class Meta:
        verbose_name = verbose_name_plural = "daily saves"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "username", "outcome"], name="one_total_per_day_user_outcome"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.username} {self.outcome}: {self.saves}"


class DailyFieldChanges(models.Model):
    """How many saves of one day changed one field."""

    day = models.DateField()
    field = models.CharField(max_length=64)
    changes = models.PositiveIntegerField()

    class Meta:
        verbose_name = verbose_name_plural = "daily field changes"
        constraints = [
            models.UniqueConstraint(fields=["day", "field"], name="one_total_per_day_field")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.field}: {self.changes}"

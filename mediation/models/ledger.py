from __future__ import annotations

from django.conf import settings
from django.db import models


class LedgerEntry(models.Model):
    """Append-only, hash-chained audit entry. Written only by ``mediation.ledger.record``.

    ``entry_hash`` = SHA-256 over the canonical JSON of every other field including
    ``prev_hash``; editing, deleting or reordering any row breaks the chain from there on.
    """

    seq = models.PositiveBigIntegerField(unique=True)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=100, db_index=True)
    case = models.ForeignKey(
        "mediation.Case", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64)
    entry_sm3 = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]
        verbose_name = "ledger entry"
        verbose_name_plural = "ledger"

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"


class LedgerHead(models.Model):
    """Single row locked while appending, so concurrent writers chain one after the other."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    entry_hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"head #{self.seq}"

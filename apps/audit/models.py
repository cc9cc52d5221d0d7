from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from apps.core.database import insert_only_save


class AppendOnlyQuerySet(models.QuerySet):
    """The default manager's queries: reads, and inserts, never bulk edits or deletes."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError("Audit events are append-only.")

    def delete(self) -> Any:
        raise PermissionError("Audit events are deleted only by the retention job.")


class AuditEvent(models.Model):
    """One thing that happened: inserted once, sealed once, never edited or deleted but by retention.

    Writers insert with `seq`, `prev_hash` and `hash` empty (no lock, inside their own transaction)
    and a `mac` the application computed over every content column (apps.audit.event_mac); the
    sealer (apps.audit.chain) later gives committed events whose MAC verifies a place in the chain in
    the order it finds them and an HMAC under AUDIT_CHAIN_KEYS over the previous hash and every
    content column, and sets any other aside as `forged`.
    The user columns have no database constraint and are never nulled: deleting a user must not
    rewrite history (and the trigger refuses UPDATE), so the id stays and `actor_label` names them.
    """

    class Outcome(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"
        DENIED = "denied", "Denied"

    class ActorType(models.TextChoices):
        USER = "user", "User"
        TOKEN = "token", "Access token"
        OAUTH = "oauth", "OAuth client"
        SYSTEM = "system", "System"

    class Category(models.TextChoices):
        AUTH = "auth", "Authentication"
        KEY = "key", "Provider key"
        TOKEN = "token", "Access token"
        TODO = "todo", "Todo"
        TOOL = "tool", "Tool call"
        PROVIDER = "provider", "Provider"
        QUOTA = "quota", "Quota"
        ADMIN = "admin", "Admin"
        SYSTEM = "system", "System"

    created_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(max_length=150, blank=True, default="")
    actor_type = models.CharField(max_length=10, choices=ActorType.choices, default=ActorType.SYSTEM)
    token_id = models.BigIntegerField(null=True, blank=True)
    # Whose data the event concerns when that is not the actor (an operator acting for alice):
    # alice sees it among her own events.
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    category = models.CharField(max_length=10, choices=Category.choices, default=Category.SYSTEM)
    action = models.CharField(max_length=80, db_index=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    error_code = models.CharField(max_length=50, blank=True, default="")
    target_type = models.CharField(max_length=60, blank=True, default="")
    target_id = models.CharField(max_length=64, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True, default="")
    client_address = models.CharField(max_length=45, blank=True, default="")
    user_agent = models.CharField(max_length=255, blank=True, default="")
    door = models.CharField(max_length=10, blank=True, default="")
    duration_ms = models.FloatField(null=True, blank=True)
    tokens = models.PositiveIntegerField(null=True, blank=True)
    # As precise as the usage ledger (apps.quotas UsageRecord.cost): fractions of a cent per call add up.
    cost = models.DecimalField(max_digits=16, decimal_places=8, null=True, blank=True)
    # The chain, set once by the sealer.
    seq = models.BigIntegerField(null=True, blank=True, unique=True)
    prev_hash = models.CharField(max_length=64, null=True, blank=True)
    hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    key_version = models.CharField(max_length=16, blank=True, default="")
    # Set by the sealer on an unsealed event whose MAC does not verify: it stays out of the chain.
    forged = models.BooleanField(default=False)
    # Written with the event by the application (apps.audit.event_mac), never changed.
    mac = models.CharField(max_length=64, blank=True, default="")
    mac_key_version = models.CharField(max_length=16, blank=True, default="")

    # The sealer (one UPDATE per event, setting only the chain columns) and the retention job.
    chain_objects = models.Manager()
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        base_manager_name = "chain_objects"
        default_manager_name = "objects"
        indexes = [
            models.Index(fields=["actor", "-created_at"], name="audit_actor_created"),
            models.Index(fields=["subject", "-created_at"], name="audit_subject_created"),
            models.Index(fields=["category", "-created_at"], name="audit_category_created"),
            # The sealer's work list stays small however long the trail grows.
            models.Index(fields=["id"], condition=models.Q(seq__isnull=True), name="audit_unsealed"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label or '-'} {self.action} {self.outcome}"

    # rows_insert (the tool pipeline's one-statement record) refuses an instance with a pk itself.
    @insert_only_save
    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("Audit events are append-only.")
        if not self.mac:  # built here rather than by audit_event_build: the application writes it all the same
            from apps.audit.event_mac import event_mac_set

            event_mac_set(self)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError("Audit events are deleted only by the retention job.")


class AuditCheckpoint(models.Model):
    """A signed statement "the chain had this hash at this position", kept beside the chain.

    `retention` checkpoints are where verification starts after old events were deleted; `head`
    checkpoints (also written to AUDIT_CHECKPOINT_FILE, outside the database) catch truncation.
    The signature is an HMAC under the chain key, so a checkpoint cannot be forged from the database.
    """

    class Kind(models.TextChoices):
        HEAD = "head", "Head"
        RETENTION = "retention", "Retention"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    created_at = models.DateTimeField()
    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    key_version = models.CharField(max_length=16)
    signature = models.CharField(max_length=64)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.seq} {self.hash[:12]}"

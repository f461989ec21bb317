import hashlib
import secrets

from django.db import models
from django.utils import timezone

from apps.launches.models import Launch

TOKEN_PREFIX = "lp_"


class Scope(models.TextChoices):
    READ = "read", "Read"
    INGEST = "ingest", "Ingest reports"
    MANAGE = "manage", "Manage (update activities; read the audit log)"
    AUDIT = "audit", "Read the audit log"
    ROLLOUT = "rollout", "Rollout (deploy tools: Flagger webhooks, Argo Rollouts analysis)"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def usable(self):
        return self.filter(revoked_at__isnull=True)

    def for_page(self, launch):
        """A launch's tokens for the token page: live ones first, then by name (one query)."""
        return self.filter(launch=launch).order_by(
            models.F("revoked_at").desc(nulls_first=True), "name"
        )


class ApiToken(models.Model):
    """A per-launch API token; only its SHA-256 is stored, the token is shown once."""

    launch = models.ForeignKey(Launch, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12, help_text="The first characters, to recognise it.")
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = "API token"
        ordering = ["launch", "name"]
        constraints = [
            models.UniqueConstraint(fields=["launch", "name"], name="api_token_name_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def generate() -> str:
        return TOKEN_PREFIX + secrets.token_urlsafe(32)

    def touch(self) -> None:
        """Record use, at most once a minute (workers and requests share the row)."""
        now = timezone.now()
        if self.last_used_at is None or (now - self.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)


class IngestRequest(models.Model):
    """The answer given to a request carrying an Idempotency-Key, replayed on a retry."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="ingest_idempotency_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.key} -> {self.status_code}"

from django.db import models

from apps.launches.models import Launch


class Role(models.Model):
    """A signing role of a launch and the gate categories its signature covers."""

    launch = models.ForeignKey(Launch, on_delete=models.CASCADE, related_name="roles")
    key = models.SlugField(max_length=80)
    name = models.CharField(max_length=200)
    scope = models.CharField(max_length=300)
    required = models.BooleanField(default=True)
    categories = models.JSONField(default=list, blank=True)
    order = models.PositiveIntegerField(default=0)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["launch", "order", "key"]
        constraints = [
            models.UniqueConstraint(fields=["launch", "key"], name="role_key_unique"),
        ]

    def __str__(self) -> str:
        return self.name

"""What the read API shows of each object: plain fields, no domain logic.

Derived values (a gate's current status) are computed by the models before serializing; the
serializers only read attributes that the views' querysets have already loaded.
"""

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.api.access import may_read_audit
from apps.audit.models import AuditEvent
from apps.gates.models import Gate, GateStatus, Measurement, Waiver, WaiverState
from apps.launches.models import Activity, ActivityStatus, Launch, Phase
from apps.signoffs.models import Condition, GoNoGo, LaunchDecision, Role, SignOff


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What is wrong, in words.")


def errors_in_words(errors: dict | list) -> str:
    """A serializer's errors as the `detail` of an ErrorSerializer: `field: message; ...`."""
    if isinstance(errors, dict):
        return "; ".join(f"{field}: {' '.join(map(str, found))}" for field, found in errors.items())
    return " ".join(map(str, errors))


class LaunchSerializer(serializers.ModelSerializer):
    days_to_t0 = serializers.SerializerMethodField()
    current_week = serializers.SerializerMethodField()

    class Meta:
        model = Launch
        fields = ["slug", "name", "version", "status", "target_t0", "start_date", "description",
                  "ready_at", "days_to_t0", "current_week", "created_at", "updated_at"]  # fmt: skip

    def get_days_to_t0(self, launch) -> int:
        return launch.days_to_t0()

    def get_current_week(self, launch) -> int:
        return launch.current_week()


class ActivitySerializer(serializers.ModelSerializer):
    phase = serializers.CharField(source="phase.code", read_only=True, help_text="Phase code.")

    class Meta:
        model = Activity
        fields = ["id", "phase", "name", "owner", "planned_week", "status", "completed_at",
                  "order"]  # fmt: skip
        read_only_fields = fields


class ActivityUpdateSerializer(serializers.Serializer):
    """The one write a `manage` token makes: an activity's status."""

    status = serializers.ChoiceField(choices=ActivityStatus.choices)


class PhaseSerializer(serializers.ModelSerializer):
    activities = ActivitySerializer(many=True, read_only=True)

    class Meta:
        model = Phase
        fields = ["code", "name", "start_week", "end_week", "order", "activities"]


class WaiverBriefSerializer(serializers.Serializer):
    expires_at = serializers.DateTimeField()
    reason = serializers.CharField()


class GateSerializer(serializers.ModelSerializer):
    """A gate's rule and its current status (stale evidence reads `unknown`)."""

    status = serializers.ChoiceField(choices=GateStatus.choices, read_only=True)
    status_reason = serializers.CharField(read_only=True)
    value = serializers.DecimalField(
        source="latest_value", max_digits=30, decimal_places=6, read_only=True, allow_null=True,
        help_text="The newest measurement's value (null: none, or the reading gave no value).",
    )  # fmt: skip
    waiver = serializers.SerializerMethodField()
    interval = serializers.DurationField(read_only=True)
    max_age = serializers.DurationField(read_only=True)

    class Meta:
        model = Gate
        fields = ["key", "name", "category", "dimension", "blocking", "source", "format",
                  "metric", "query", "comparator", "threshold", "unit", "interval", "max_age",
                  "for_count", "spec_ref", "description", "controls", "status", "status_reason",
                  "value", "state_since", "last_measured_at", "last_evidence_at",
                  "waiver"]  # fmt: skip

    @extend_schema_field(WaiverBriefSerializer(allow_null=True))
    def get_waiver(self, gate) -> dict | None:
        if gate.status != GateStatus.WAIVED:
            return None
        return {"expires_at": gate.waiver_expires_at, "reason": gate.waiver_reason}


class MeasurementSerializer(serializers.ModelSerializer):
    gate = serializers.CharField(source="gate.key", read_only=True)
    evidence = serializers.CharField(
        source="evidence_id", read_only=True, allow_null=True,
        help_text="SHA-256 of the stored raw report or response, if any.",
    )  # fmt: skip

    class Meta:
        model = Measurement
        fields = ["id", "gate", "status", "value", "reason", "evaluated_at", "duration_ms",
                  "source_detail", "evidence"]  # fmt: skip


class WaiverSerializer(serializers.ModelSerializer):
    gate = serializers.CharField(source="gate.key", read_only=True)
    active = serializers.SerializerMethodField()
    state = serializers.SerializerMethodField()

    class Meta:
        model = Waiver
        fields = ["id", "gate", "reason", "state", "requested_by_name", "requested_at",
                  "granted_by_name", "granted_at", "expires_at", "refused_by_name", "refused_at",
                  "refusal_reason", "revoked_by_name", "revoked_at", "revoke_reason",
                  "active"]  # fmt: skip

    def get_active(self, waiver) -> bool:
        """Whether it counts now: approved, not revoked, not expired."""
        return waiver.state(self.context["now"]) == WaiverState.ACTIVE

    def get_state(self, waiver) -> str:
        """pending (waits for a second person), active, expired, refused or revoked."""
        return waiver.state(self.context["now"])


class ConditionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Condition
        fields = ["text", "owner", "due_at", "met_at"]


class SignOffSerializer(serializers.ModelSerializer):
    role = serializers.CharField(source="role.key", read_only=True)
    conditions = ConditionSerializer(many=True, read_only=True)
    valid = serializers.BooleanField(source="is_valid", read_only=True)
    ip = serializers.IPAddressField(
        read_only=True, allow_null=True, help_text="null unless the caller may read the audit log"
    )
    user_agent = serializers.CharField(
        read_only=True, allow_null=True, help_text="null unless the caller may read the audit log"
    )

    class Meta:
        model = SignOff
        fields = ["id", "role", "printed_name", "signer_email", "on_behalf_of", "decision",
                  "comment", "meaning", "digest", "signed_at", "ip", "user_agent",
                  "reauth_method", "superseded_at", "invalidated_at", "invalidated_reason",
                  "invalidated_gate", "valid", "conditions"]  # fmt: skip

    def to_representation(self, signoff):
        data = super().to_representation(signoff)
        # Where a signer connected from is audit detail: the audit log's readers see it.
        if not may_read_audit(self.context.get("request")):
            data["ip"] = data["user_agent"] = None
        return data


class RoleSerializer(serializers.ModelSerializer):
    signoff = serializers.SerializerMethodField(help_text="The role's current sign-off, if any.")

    class Meta:
        model = Role
        fields = ["key", "name", "scope", "required", "categories", "order", "retired_at",
                  "signoff"]  # fmt: skip

    @extend_schema_field(SignOffSerializer(allow_null=True))
    def get_signoff(self, role) -> dict | None:
        active = role.active_signoffs
        return SignOffSerializer(active[0], context=self.context).data if active else None


class DecisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = LaunchDecision
        fields = ["id", "decision", "recommendation", "decided_by_name", "on_behalf_of",
                  "attendees", "notes", "blockers", "override", "override_reason", "supersedes",
                  "decided_at"]  # fmt: skip


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["chain", "sequence", "at", "actor_name", "action", "object_type", "object_key",
                  "data", "prev_hash", "hash"]  # fmt: skip


class WaitingSerializer(serializers.Serializer):
    """A role the signed-in person may sign now, and why it waits for them."""

    launch = serializers.CharField(source="role.launch.slug")
    role = serializers.CharField(source="role.key")
    role_name = serializers.CharField(source="role.name")
    state = serializers.CharField(help_text="not signed, invalidated, rejected, rejected by you, "
                                  "conditions due")  # fmt: skip
    on_behalf_of = serializers.CharField(help_text="The holder a delegate stands in for.")
    due_at = serializers.DateTimeField(allow_null=True)
    blocking = serializers.ListField(
        child=serializers.CharField(), help_text="Blocking gates of the scope not passing."
    )
    sign_url = serializers.SerializerMethodField()

    def get_sign_url(self, waiting) -> str:
        return reverse("launches:sign", args=[waiting.role.launch.slug, waiting.role.key])


class OwnedConditionSerializer(serializers.Serializer):
    launch = serializers.CharField(source="condition.signoff.role.launch.slug")
    role = serializers.CharField(source="condition.signoff.role.key")
    text = serializers.CharField(source="condition.text")
    due_at = serializers.DateTimeField(source="condition.due_at")
    overdue = serializers.BooleanField()


class InboxSerializer(serializers.Serializer):
    waiting = WaitingSerializer(many=True)
    conditions = OwnedConditionSerializer(many=True)


NO_FILE = "send the report as the multipart field 'file'"


class ReportUploadSerializer(serializers.Serializer):
    """The report and, if need be, its format and the one gate it measures."""

    # An empty file or a blank field passes: the parsers then say what is wrong, as before.

    file = serializers.FileField(
        allow_empty_file=True, help_text="The report; gzip is inflated (same size cap).",
        error_messages=dict.fromkeys(("required", "null", "invalid", "no_name"), NO_FILE),
    )  # fmt: skip
    format = serializers.CharField(
        required=False, allow_blank=True,
        help_text="The report format (junit, cobertura, ...); detected if absent.",
    )  # fmt: skip
    gate = serializers.CharField(
        required=False, allow_blank=True, help_text="Measure only this gate (its key)."
    )


class ShortDecimalField(serializers.CharField):
    """A decimal as its shortest text: `75`, `63.64`, `100` (not `75.000000` nor `1E+2`)."""

    def to_representation(self, value) -> str:
        return f"{value.normalize():f}"


class MeasuredSerializer(serializers.Serializer):
    """A measurement the upload made."""

    id = serializers.IntegerField()
    gate = serializers.CharField(source="gate.key")
    metric = serializers.CharField(source="gate.metric")
    value = ShortDecimalField(allow_null=True)
    status = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)
    evaluated_at = serializers.DateTimeField()


class ReportSerializer(serializers.Serializer):
    """The stored report: its SHA-256 names it as evidence."""

    sha256 = serializers.CharField(source="evidence_id")
    format = serializers.CharField(source="source_detail.format", allow_blank=True)
    name = serializers.CharField(source="source_detail.report", allow_blank=True)


class IngestedSerializer(serializers.Serializer):
    """The stored report and the measurements it made."""

    # Serializes {"report": measurements[0], "measurements": measurements}: one upload stores
    # one report, which every measurement's source_detail names.

    report = ReportSerializer()
    measurements = MeasuredSerializer(many=True)


class BlockerSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="`gate` or `signoff`.")
    key = serializers.CharField()
    status = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)


class ApprovalSerializer(serializers.Serializer):
    decision = serializers.CharField()
    signer = serializers.CharField()
    on_behalf_of = serializers.CharField(allow_blank=True)
    signed_at = serializers.DateTimeField()
    digest = serializers.CharField()


class ReadinessSerializer(serializers.Serializer):
    launch = serializers.CharField()
    ready = serializers.BooleanField()
    recommendation = serializers.ChoiceField(choices=GoNoGo.choices)
    blocking = BlockerSerializer(many=True)
    signoffs = serializers.DictField(
        child=ApprovalSerializer(), help_text="The valid approvals, by role key."
    )
    digest = serializers.CharField(help_text="SHA-256 of the launch's evidence as of now.")
    evaluated_at = serializers.DateTimeField()


class ForecastDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    passing = serializers.IntegerField()
    waived = serializers.IntegerField()
    failing = serializers.IntegerField()
    unknown = serializers.IntegerField()
    pending = serializers.IntegerField(help_text="Blocking gates with no evidence yet.")
    approved = serializers.IntegerField(help_text="Required roles approved.")
    awaited = serializers.IntegerField(help_text="Required roles not (validly) approved.")
    done = serializers.IntegerField(help_text="passing + waived + approved.")


class ForecastSerializer(serializers.Serializer):
    sentence = serializers.CharField()
    t0 = serializers.DateField()
    total = serializers.IntegerField(help_text="Blocking gates and required roles.")
    done = serializers.IntegerField()
    left = serializers.IntegerField()
    gates_left = serializers.IntegerField()
    signoffs_left = serializers.IntegerField()
    method = serializers.CharField()
    rate = serializers.FloatField(allow_null=True, help_text="Done a day; null: no history yet.")
    window_days = serializers.IntegerField()
    ready_on = serializers.DateField(allow_null=True, help_text="Null: not at the current rate.")
    earliest = serializers.DateField(allow_null=True)
    latest = serializers.DateField(allow_null=True)
    versus_t0 = serializers.CharField(allow_null=True, help_text="ready_on as T+3d, T-2d.")
    days = ForecastDaySerializer(many=True)

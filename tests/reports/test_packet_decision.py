"""The packet prints the Go/No-Go decisions, an override marked as such with its reason."""

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.reports.packets.render import packet_context, render_html
from apps.signoffs.models import Assignment, Duty
from apps.signoffs.services import record_decision

pytestmark = pytest.mark.django_db


def test_the_packet_marks_an_override_and_what_it_superseded(atlas):
    vera = get_user_model().objects.create_user("vera", "vera@example.com", "pw-12345")
    Assignment.objects.create(launch=atlas, user=vera, duty=Duty.SIGNER,
                              role=atlas.roles.get(key="vp-engineering"))  # fmt: skip
    record_decision(launch=atlas, user=vera, decision="no-go", attendees="vera", notes="")
    record_decision(launch=atlas, user=vera, decision="go", attendees="vera, pat", notes="",
                    override=True, override_reason="sign-offs follow after the freeze")  # fmt: skip
    html = render_html(packet_context(atlas, timezone.now()))
    section = html[html.index("Go/No-Go decisions") :]
    assert '<strong class="failing">OVERRIDE</strong> of the portal\'s NO-GO' in section
    assert "Reason for overriding: sign-offs follow after the freeze" in section
    assert "IN FORCE" in section and "Superseded by a later decision" in section

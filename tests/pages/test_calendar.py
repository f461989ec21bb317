"""The ICS feed: phases, activities and the launch sequence in everyone's calendar."""

import pytest
from django.contrib.auth import get_user_model
from icalendar import Calendar

from apps.launches.calendar import calendar_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings):
    from apps.demo.loader import load_demo

    settings.DEBUG = True
    load_demo()


def test_the_feed_carries_phases_activities_and_t0(client, demo):
    pm = get_user_model().objects.get(username="pm")
    client.force_login(pm)
    url = client.get("/launches/llm-research-lab/timeline/").context["calendar_url"]
    client.logout()  # a calendar app has no session: the token stands for it
    response = client.get(url.split("testserver", 1)[1])
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    events = [c for c in Calendar.from_ical(response.content).walk("VEVENT")]
    summaries = {str(e["summary"]) for e in events}
    assert "LLM-Research-Lab: 5.1 Infrastructure Provisioning" in summaries
    assert any("T-0 Deployment" in s for s in summaries)
    assert len(events) == 6 + 35 + 6  # phases, activities, sequence steps
    t0 = next(e for e in events if "T-0" in str(e["summary"]))
    assert t0.decoded("dtstart").isoformat() == "2026-12-22T16:00:00+00:00"


def test_a_forged_token_or_an_outsider_gets_nothing(client, demo):
    assert client.get("/calendar/forged-token/launches.ics").status_code == 404
    nora = get_user_model().objects.create_user("nora", "nora@example.com", "pw")
    response = client.get(f"/calendar/{calendar_token(nora)}/launches.ics")
    assert response.status_code == 200
    assert b"LLM-Research-Lab" not in response.content

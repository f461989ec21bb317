"""Flagger's webhooks and Argo Rollouts' web metric, called as those tools call them: Flagger POSTs
its JSON body with Content-Type and nothing else, Argo GETs with the header it was given."""

import copy
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.api.services import create_api_token
from apps.audit.models import AuditEvent
from apps.rollouts.models import HookCall, RolloutRun
from apps.rollouts.services import analyse_run
from apps.specs.services import import_launch_spec
from tests.helpers import to_yaml
from tests.rollouts.conftest import CHECKSUM, decide, flagger, hook, scraped

pytestmark = pytest.mark.django_db
SECONDS = timedelta(seconds=1)


def argo(client, token: str) -> dict:
    response = client.get("/api/v1/launches/atlas/rollout/analysis/",
                          headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert response.status_code == 200
    return response.json()


def _analyse(run: RolloutRun, *seconds: int) -> None:
    """Analyses `seconds` after the current stage started (the readings are real)."""
    run.refresh_from_db()
    started = run.current_stage().started_at
    for second in seconds:
        analyse_run(run_id=run.pk, now=started + second * SECONDS)


def test_confirm_rollout_answers_403_before_a_go_and_200_after(client, launch, people, token):
    refused = hook(client, "confirm-rollout", token=token, body=flagger("Waiting"))
    assert refused.status_code == 403
    assert refused.json()["detail"] == "no Go/No-Go decision is recorded"
    assert not RolloutRun.objects.exists()

    decide(launch, people, "go")
    started = hook(client, "confirm-rollout", token=token, body=flagger("Waiting"))
    assert started.status_code == 200
    run = RolloutRun.objects.get()
    assert (run.driver, run.checksum, run.started_by) == ("deploy_tool", CHECKSUM, "token:flagger")
    assert started.json() == {"hook": "confirm-rollout", "run": run.pk, "detail": (
        f"run {run.pk} started: the first traffic increase starts stage 1")}  # fmt: skip
    again = hook(client, "confirm-rollout", token=token, body=flagger("Waiting"))
    assert (again.status_code, again.json()["detail"]) == (200, f"run {run.pk} is under way")
    assert RolloutRun.objects.count() == 1
    calls = list(HookCall.objects.order_by("at", "pk").values_list("status_code", "run"))
    assert calls == [(403, None), (200, run.pk), (200, run.pk)]
    assert HookCall.objects.last().body == {"name": "atlas-api", "namespace": "atlas",
                                            "phase": "Waiting", "checksum": CHECKSUM,
                                            "metadata": {}}  # fmt: skip

    decide(launch, people, "no-go")
    withdrawn = hook(client, "confirm-rollout", token=token, body=flagger("Waiting"))
    assert (withdrawn.status_code, withdrawn.json()["detail"]) == (
        403, "the decision in force is No-Go")  # fmt: skip


def test_confirm_rollout_is_refused_outside_the_t0_window(client, launch, go, token):
    launch.target_t0 = timezone.now() + timedelta(hours=3)  # the window opens in two hours
    launch.save()
    refused = hook(client, "confirm-rollout", token=token)
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("the T-0 window is ")


def test_flagger_walks_the_stages_as_they_pass_and_argo_follows(client, launch, go, token,
                                                               healthy):  # fmt: skip
    assert argo(client, token)["verdict"] == "inconclusive"  # no run yet
    assert hook(client, "confirm-rollout", token=token).status_code == 200
    early = hook(client, "confirm-promotion", token=token)
    assert (early.status_code, early.json()["detail"]) == (
        403, "no stage has started: confirm a traffic increase first")  # fmt: skip
    first = hook(client, "confirm-traffic-increase", token=token)
    assert (first.status_code, first.json()["detail"]) == (200, "stage canary-5 (5%) starts")
    document = argo(client, token)
    assert (document["verdict"], document["reason"]) == ("inconclusive", "no analysis yet")

    run = RolloutRun.objects.get()
    _analyse(run, 10)
    document = argo(client, token)
    assert document["verdict"] == "pass" and document["stage"]["name"] == "canary-5"
    assert document["stage"]["traffic"] == 5 and document["stage"]["passes_in_row"] == 1
    assert [(c["name"], c["kind"], c["value"], c["status"]) for c in document["criteria"]] == [
        ("error-rate", "stage", 0.2, "passing"), ("latency-p99", "stage", 42.0, "passing"),
        ("error-rate-above-5", "trigger", 0.2, "passing")]  # fmt: skip
    not_yet = hook(client, "confirm-promotion", token=token)
    assert not_yet.status_code == 403
    assert not_yet.json()["detail"].startswith("stage canary-5 has not passed (analysing): 1 of 2")

    _analyse(run, 20, 60)  # two in a row, and the stage ran its minute: passed; Flagger confirms
    assert argo(client, token)["stage"]["status"] == "passed"
    promoted = hook(client, "confirm-promotion", token=token)
    assert (promoted.status_code, promoted.json()["detail"]) == (
        200, "stage canary-5 passed; stage full (100%) starts")  # fmt: skip
    assert argo(client, token)["stage"]["name"] == "full"

    _analyse(run, 10, 20)  # the last stage passing ends the run: nothing confirms after it
    document = argo(client, token)
    assert (document["verdict"], document["run"]["status"]) == ("pass", "passed")
    assert hook(client, "confirm-promotion", token=token).status_code == 200  # a retry
    assert hook(client, "rollback", token=token).status_code == 409
    started = AuditEvent.objects.filter(action="rollout.stage_started")
    assert [e.actor_name for e in started] == ["token:flagger", "token:flagger"]


def test_a_breach_answers_the_rollback_hook_with_200_within_one_interval(
    client, launch, go, token, healthy, real_prometheus
):
    hook(client, "confirm-rollout", token=token)
    hook(client, "confirm-traffic-increase", token=token)
    run = RolloutRun.objects.get()
    _analyse(run, 10)
    calm = hook(client, "rollback", token=token)
    assert (calm.status_code, calm.json()["detail"]) == (
        409, "no rollback: the run is running and no trigger fired")  # fmt: skip

    healthy.set("error_rate", 9, svc="api")
    scraped(real_prometheus, 'error_rate{svc="api"}', "9")
    _analyse(run, 20)  # the next analysis, one interval later
    rollback = hook(client, "rollback", token=token)
    assert (rollback.status_code, rollback.json()["detail"]) == (
        200, "roll back: rollback trigger fired: error-rate-above-5 fired: 9 > 5")  # fmt: skip
    assert argo(client, token)["verdict"] == "fail"
    assert hook(client, "confirm-traffic-increase", token=token).status_code == 403
    other_revision = flagger(checksum="7b5f9d")
    assert hook(client, "rollback", token=token, body=other_revision).status_code == 409


def test_a_withdrawn_go_answers_the_rollback_hook_with_200(client, launch, people, go, token):
    hook(client, "confirm-rollout", token=token)
    decide(launch, people, "no-go")
    rollback = hook(client, "rollback", token=token, body=flagger("Progressing"))
    assert (rollback.status_code, rollback.json()["detail"]) == (
        200, "roll back: the Go was withdrawn: the decision in force is No-Go")  # fmt: skip
    assert RolloutRun.objects.get().status == "rollback"
    assert AuditEvent.objects.get(action="rollout.rollback").actor_name == "token:flagger"


# --- RELIABILITY case 26: no 2xx without every condition --------------------------------------


@pytest.fixture
def borealis(launch_spec):
    spec = copy.deepcopy(launch_spec)
    spec["launch"].update(slug="borealis", name="Borealis")
    return import_launch_spec(raw=to_yaml(spec), actor="test").launch


def _credentials(case: str, launch, borealis) -> str | None:
    if case == "without credentials":
        return None
    if case == "with another launch's token":
        return create_api_token(launch=borealis, name="flagger", scopes=["rollout"],
                                actor="test")[1]  # fmt: skip
    if case == "with a token lacking the rollout scope":
        return create_api_token(launch=launch, name="ci", scopes=["read", "ingest", "manage"],
                                actor="test")[1]  # fmt: skip
    return create_api_token(launch=launch, name="flagger", scopes=["rollout"], actor="test")[1]


HOOKS = ["confirm-rollout", "confirm-traffic-increase", "confirm-promotion", "rollback"]
CASES = [
    ("without credentials", HOOKS, 401),
    ("with another launch's token", HOOKS, 404),
    ("with a token lacking the rollout scope", HOOKS, 403),
    ("before a Go", HOOKS, None),
    ("for a stage that has not passed", HOOKS[1:], None),
]


@pytest.mark.parametrize(
    ("case", "name", "status"),
    [(case, name, status) for case, names, status in CASES for name in names],
)
@pytest.mark.parametrize("secret_url", [False, True], ids=["bearer", "secret-url"])
def test_flagger_gets_no_2xx_without_every_condition(client, launch, people, borealis, case,
                                                     name, status, secret_url):  # fmt: skip
    token = _credentials(case, launch, borealis)
    if case in ("with another launch's token", "with a token lacking the rollout scope",
                "for a stage that has not passed"):  # fmt: skip
        decide(launch, people, "go")  # everything else holds
    if case == "for a stage that has not passed":
        assert hook(client, "confirm-rollout", token=token).status_code == 200
        assert hook(client, "confirm-traffic-increase", token=token).status_code == 200
    if secret_url:
        url = f"/api/v1/launches/atlas/rollout/hooks/{name}/?token={token or 'lp_guessed'}"
        response = client.post(url, data=flagger(), content_type="application/json")
    else:
        response = hook(client, name, token=token)
    assert not 200 <= response.status_code < 300, response.json()
    if status is not None:
        assert response.status_code == status
    if case == "with another launch's token":
        denied = AuditEvent.objects.get(action="api.denied")
        assert denied.launch_slug == "borealis"
        assert token not in str(denied.data)  # a secret URL is recorded without its token


def test_the_secret_url_carries_the_token_for_flagger(client, launch, go, token):
    url = f"/api/v1/launches/atlas/rollout/hooks/confirm-rollout/?token={token}"
    response = client.post(url, data=flagger("Waiting"), content_type="application/json")
    assert response.status_code == 200
    assert RolloutRun.objects.get().started_by == "token:flagger"
    ci = create_api_token(launch=launch, name="ci", scopes=["read"], actor="test")[1]
    refused = client.post(url.replace(token, ci), data=flagger(), content_type="application/json")
    assert refused.status_code == 403
    denied = AuditEvent.objects.get(action="api.denied")
    assert denied.data["path"] == "/api/v1/launches/atlas/rollout/hooks/confirm-rollout/"


def test_an_unknown_hook_is_no_route(client, launch, go, token):
    assert hook(client, "pre-rollout", token=token).status_code == 404


@pytest.mark.parametrize(
    ("name", "body", "status", "detail"),
    [
        ("confirm-rollout", "{not json", 400, "JSON parse error"),
        ("confirm-rollout", "[]", 400, "Invalid data. Expected a dictionary"),
        ("confirm-rollout", '{"name": "atlas-api", "namespace": "atlas"}', 400,
         "phase: This field is required."),
        ("confirm-rollout", '{"name": "a", "namespace": "b", "phase": "Dancing"}', 400,
         'phase: "Dancing" is not a valid choice.'),
    ],
)  # fmt: skip
def test_a_malformed_request_is_refused_with_the_reason(client, launch, go, token, name, body,
                                                           status, detail):  # fmt: skip
    response = hook(client, name, token=token, body=body)
    assert response.status_code == status
    assert detail in response.json()["detail"]
    assert not RolloutRun.objects.exists()


def test_argo_needs_a_token_with_the_rollout_or_read_scope(client, launch):
    url = "/api/v1/launches/atlas/rollout/analysis/"
    assert client.get(url).status_code == 401
    ingest = create_api_token(launch=launch, name="ci", scopes=["ingest"], actor="test")[1]
    assert client.get(url, headers={"Authorization": f"Bearer {ingest}"}).status_code == 403
    read = create_api_token(launch=launch, name="argo", scopes=["read"], actor="test")[1]
    assert argo(client, read)["reason"] == "no rollout run"


def test_the_tokens_page_offers_the_rollout_scope(client, launch, people):
    client.force_login(people["ada"])
    page = client.get("/launches/atlas/tokens/").content.decode()
    assert 'value="rollout"' in page and "Rollout (deploy tools" in page
    created = client.post("/launches/atlas/tokens/", {"name": "flagger", "scopes": ["rollout"]})
    assert created.status_code == 201

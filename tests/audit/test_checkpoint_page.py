"""/audit/checkpoints/: the signed checkpoints, for anyone, without a login or event data."""

import pytest
from cryptography import x509
from django.db import transaction
from django.urls import reverse

from apps.audit import views
from apps.audit.checkpoints import checkpoint_payload, issue_checkpoint
from apps.audit.services import record
from portal import signing

pytestmark = pytest.mark.django_db
URL = "/audit/checkpoints/"


@pytest.fixture
def checkpoints():
    with transaction.atomic():
        record(actor="alice", action="auth.login", obj_type="user", obj_key="alice@example.com",
               data={"ip": "192.0.2.7"})  # fmt: skip
        for n in range(2):
            record(actor="alice", action="gate.attested", launch_slug="atlas", obj_type="gate",
                   obj_key="runbooks", data={"comment": f"secret note {n}"})  # fmt: skip
    return [issue_checkpoint(chain="portal"), issue_checkpoint(chain="atlas")]


def test_anyone_gets_the_checkpoints_newest_first_with_the_certificate(client, checkpoints):
    assert reverse("audit:checkpoints") == URL
    response = client.get(URL)  # no session
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert "public" in response["Cache-Control"]
    body = response.json()
    assert body["chain"] == "portal"
    assert [c["chain"] for c in body["checkpoints"]] == ["portal"]
    assert body["checkpoints"][0] == checkpoints[0].as_dict()
    assert (body["page"], body["pages"], body["next"]) == (1, 1, None)
    certificate = x509.load_pem_x509_certificate(body["certificate"]["pem"].encode())
    assert signing.fingerprint(certificate) == body["certificate"]["sha256"]
    launch = client.get(URL, {"chain": "atlas"}).json()
    for published in body["checkpoints"] + launch["checkpoints"]:
        assert signing.verify(checkpoint_payload(published), published["signature"], certificate)


def test_the_list_names_no_launch_nobody_named(client, checkpoints):
    """Launch slugs are chain names: the public list shows a launch's chain only to whoever names
    it (its packet or export does), so it cannot be read as a list of the portal's launches."""
    assert "atlas" not in client.get(URL).content.decode()
    assert "atlas" not in client.get(URL, {"page": 2}).content.decode()
    assert client.get(URL, {"chain": "borealis"}).json()["checkpoints"] == []


def test_the_checkpoints_hold_no_event_data(client, checkpoints):
    text = client.get(URL).content.decode()
    for private in ("192.0.2.7", "alice", "secret note", "runbooks", "gate.attested"):
        assert private not in text
    assert set(client.get(URL).json()["checkpoints"][0]) == {
        "chain", "sequence", "head", "at", "signature", "certificate_sha256"}  # fmt: skip


def test_one_chain_and_pages(client, checkpoints, monkeypatch):
    only = client.get(URL, {"chain": "atlas"}).json()["checkpoints"]
    assert [(c["chain"], c["sequence"]) for c in only] == [("atlas", 2)]
    record(actor="alice", action="gate.attested", launch_slug="atlas", obj_type="gate",
           obj_key="runbooks")  # fmt: skip
    issue_checkpoint(chain="atlas")  # a second checkpoint, of the new head
    monkeypatch.setattr(views, "CHECKPOINTS_PER_PAGE", 1)
    first = client.get(URL, {"chain": "atlas"}).json()
    assert (len(first["checkpoints"]), first["pages"]) == (1, 2)
    assert first["next"] == f"{URL}?chain=atlas&page=2"
    assert client.get(first["next"]).json()["checkpoints"][0]["sequence"] == 2
    assert client.post(URL).status_code == 405

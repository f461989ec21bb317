"""Signature evidence in full: who signed (name, email), from where (IP, user agent) and how they
confirmed it was them, kept with every sign-off and shown on the matrix, in the packet, in the
export's signoffs.csv and in the API.

vera signs VP Engineering; otto, the auditor, reads what was recorded.
"""

import csv
import io
import time
import zipfile

import pytest
from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
from django.test import RequestFactory
from django.utils import timezone

from apps.api.services import create_api_token
from apps.audit.models import AuditEvent
from apps.reports.exports.archive import export_evidence
from apps.reports.packets.render import render_packet
from apps.signoffs.models import SignOff
from portal.http import client_ip
from tests.reports.pdftext import pdf_text
from tests.signoffs.conftest import PASSWORD

pytestmark = pytest.mark.django_db
SIGN_VP = "/launches/atlas/signoffs/vp-engineering/sign/"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"


def sign(client, **meta) -> SignOff:
    form = client.get(SIGN_VP).context["form"]
    data = {"decision": "approve", "password": PASSWORD, "comment": "",
            "digest": form.initial["digest"], "previous": form.initial["previous"]}  # fmt: skip
    response = client.post(SIGN_VP, data, headers={"User-Agent": FIREFOX}, **meta)
    assert response.status_code == 302, response.content.decode()[:2000]
    return SignOff.objects.get(superseded_at__isnull=True, role__key="vp-engineering")


@pytest.fixture
def signed(client, people, all_passing) -> SignOff:
    client.force_login(people["vera"])
    return sign(client, REMOTE_ADDR="198.51.100.23")


def test_every_signature_records_email_address_user_agent_and_how_they_confirmed(signed):
    assert (signed.signer_email, signed.ip, signed.user_agent, signed.reauth_method) == (
        "vera@example.com", "198.51.100.23", FIREFOX, "password",
    )  # fmt: skip
    event = AuditEvent.objects.get(action="signoff.signed")
    assert (event.data["signer_email"], event.data["reauth_method"], event.data["ip"]) == (
        "vera@example.com", "password", "198.51.100.23",
    )  # fmt: skip


def test_after_single_sign_on_the_method_says_so(client, people, all_passing):
    client.force_login(people["vera"])
    session = client.session  # as allauth records a sign-in through OpenID Connect
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "socialaccount", "at": time.time(), "provider": "oidc", "uid": "vera-1"}
    ]
    session["account_authentication_methods_user"] = str(people["vera"].pk)
    session.save()
    assert sign(client).reauth_method == "sso+password"


def test_a_forged_forwarded_for_is_ignored_without_a_trusted_proxy(client, people, all_passing,
                                                                   settings):  # fmt: skip
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 0
    client.force_login(people["vera"])
    signoff = sign(client, REMOTE_ADDR="203.0.113.10", HTTP_X_FORWARDED_FOR="192.0.2.66")
    assert signoff.ip == "203.0.113.10"


def test_behind_our_proxy_the_client_it_saw_is_recorded(client, people, all_passing, settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    client.force_login(people["vera"])
    # The client wrote 192.0.2.66 itself; our proxy appended the address it saw.
    signoff = sign(client, REMOTE_ADDR="10.0.0.2",
                   HTTP_X_FORWARDED_FOR="192.0.2.66, 198.51.100.7")  # fmt: skip
    assert signoff.ip == "198.51.100.7"


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        (0, "203.0.113.10", None, "203.0.113.10"),
        (0, "203.0.113.10", "192.0.2.66", "203.0.113.10"),
        (1, "10.0.0.2", "192.0.2.66, 198.51.100.7", "198.51.100.7"),
        (2, "10.0.0.2", "192.0.2.66, 198.51.100.7, 10.0.0.9", "198.51.100.7"),
        (1, "10.0.0.2", None, "10.0.0.2"),  # not through the proxy: the connection's address
        (2, "10.0.0.2", "198.51.100.7", None),  # fewer hops than our proxies: cannot be told
        (1, "10.0.0.2", "not-an-address", None),
    ],
)
def test_one_rule_for_the_client_address(settings, proxies, remote, forwarded, expected):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = proxies
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    assert client_ip(RequestFactory().get("/", **meta)) == expected


def test_the_matrix_details_show_the_evidence(client, people, signed):
    client.force_login(people["otto"])
    page = client.get("/launches/atlas/signoffs/").content.decode()
    details = page[page.index('<details class="signature-details') :]
    details = details[: details.index("</details>")]
    for text in ("Vera", "vera@example.com", "VP Engineering", "Approve", "198.51.100.23",
                 FIREFOX, "<code>password</code>", signed.digest, "UTC"):  # fmt: skip
        assert text in details, text
    assert "snapshot " + signed.digest in details  # the meaning in words


def test_the_packet_prints_the_evidence(launch, signed):
    text = pdf_text(render_packet(launch, now=timezone.now()))
    assert "Signer email vera@example.com" in text
    assert "IP address 198.51.100.23" in text
    assert "re-authenticated by password" in text
    assert "Gecko/20100101 Firefox/140.0" in text


def test_the_export_signoffs_csv_carries_the_evidence(launch, signed, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    out = io.BytesIO()
    export_evidence(launch, out)
    with zipfile.ZipFile(out) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("signoffs.csv").decode())))
    [row] = rows
    assert {k: row[k] for k in ("signer_email", "ip", "user_agent", "reauth_method", "digest")} == {
        "signer_email": "vera@example.com", "ip": "198.51.100.23", "user_agent": FIREFOX,
        "reauth_method": "password", "digest": signed.digest,
    }  # fmt: skip
    assert row["meaning"] == signed.meaning


def _api_signoff(client, **headers) -> dict:
    response = client.get("/api/v1/launches/atlas/signoffs/", headers=headers)
    assert response.status_code == 200, response.content
    [signoff] = response.json()["results"]
    return signoff


def test_the_api_gives_an_auditor_the_evidence(client, launch, people, signed):
    token = create_api_token(launch=launch, name="auditor", scopes=["read", "audit"],
                             actor="test")[1]  # fmt: skip
    client.logout()
    by_token = _api_signoff(client, Authorization=f"Bearer {token}")
    client.force_login(people["otto"])
    by_session = _api_signoff(client)
    for body in (by_token, by_session):
        assert (body["signer_email"], body["ip"], body["user_agent"], body["reauth_method"]) == (
            "vera@example.com", "198.51.100.23", FIREFOX, "password",
        )  # fmt: skip


def test_a_read_only_token_does_not_see_where_a_signer_connected_from(client, launch, signed):
    token = create_api_token(launch=launch, name="dashboard", scopes=["read"], actor="test")[1]
    client.logout()
    body = _api_signoff(client, Authorization=f"Bearer {token}")
    assert (body["ip"], body["user_agent"]) == (None, None)
    assert (body["signer_email"], body["reauth_method"]) == ("vera@example.com", "password")
    roles = client.get("/api/v1/launches/atlas/roles/",
                       headers={"Authorization": f"Bearer {token}"}).json()  # fmt: skip
    vp = next(r for r in roles["results"] if r["key"] == "vp-engineering")
    assert vp["signoff"]["ip"] is None and vp["signoff"]["reauth_method"] == "password"

"""The OpenAPI schema: valid without a warning, every endpoint documented, served to the signed-in;
its reference page works in a real browser under the portal's Content-Security-Policy."""

import pytest
import yaml
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver

from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db


def test_the_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    assert schema["openapi"].startswith("3.")
    assert set(schema["components"]["securitySchemes"]) == {"bearerAuth", "cookieAuth"}


def _api_routes(resolver=None, prefix="") -> set[str]:
    routes = set()
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            routes |= _api_routes(entry, route)
        elif isinstance(entry, URLPattern) and route.startswith("api/v1/"):
            routes.add("/" + route.replace("<slug:", "{").replace("<int:", "{").replace(">", "}"))
    return routes


@pytest.fixture
def schema(client, launch, make_token):
    response = client.get("/api/schema/", {"format": "json"}, headers=bearer(make_token("read")))
    assert response.status_code == 200
    return response.json()


def test_every_endpoint_is_documented_with_its_errors(schema):
    documented = {path.replace("{id}", "{pk}") for path in schema["paths"]}
    assert _api_routes() == documented
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), (method, path)
            assert {"200", "201"} & set(operation["responses"]), (method, path)
            assert {"401", "403", "404"} <= set(operation["responses"]), (method, path)
            schemes = {name for requirement in operation["security"] for name in requirement}
            assert "bearerAuth" in schemes, (method, path)


def test_the_upload_is_documented_as_multipart_with_its_refusals(schema):
    upload = schema["paths"]["/api/v1/launches/{slug}/reports/"]["post"]
    assert list(upload["requestBody"]["content"]) == ["multipart/form-data"]
    assert {"400", "401", "403", "404", "413", "415"} <= set(upload["responses"])


def test_the_schema_needs_a_token_or_a_session(client, launch, people):
    assert client.get("/api/schema/").status_code == 401
    bad = client.get("/api/schema/", headers={"Authorization": "Bearer lp_nope"})
    assert bad.status_code == 401
    client.force_login(people["nora"])  # the shape of the API is no secret to a signed-in person
    assert client.get("/api/schema/").status_code == 200


def test_the_reference_page_asks_to_sign_in(client):
    response = client.get("/api/docs/")
    assert response.status_code == 302 and "/accounts/login/" in response.headers["Location"]


@pytest.mark.django_db(transaction=True)
def test_the_reference_page_renders_in_a_browser_under_the_csp(live_server, client, people,
                                                               new_page):  # fmt: skip
    client.force_login(people["pat"])
    cookie = {"name": "sessionid", "value": client.cookies["sessionid"].value,
              "url": live_server.url}  # fmt: skip
    problems = []
    page = new_page()
    page.context.add_cookies([cookie])
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    response = page.goto(f"{live_server.url}/api/docs/")
    assert "nonce-" in response.headers["content-security-policy"]
    page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
    assert "Launch Portal API" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/launches/{slug}/gates/" in p for p in paths)
    assert len(paths) >= 15
    assert problems == []

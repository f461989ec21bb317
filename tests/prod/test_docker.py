"""docker/: no engine runs here, so check what can be checked without one: every file the image
copies exists, and compose wires web, worker, beat and a Prometheus that scrapes /metrics."""

import re

import yaml

from tests.helpers import ROOT

DOCKER = ROOT / "docker"


def test_every_file_the_image_copies_exists():
    sources = re.findall(r"^COPY (?!--from)(.+) \S+$", (DOCKER / "Dockerfile").read_text(), re.M)
    paths = [path for line in sources for path in line.split()]
    assert "docker/gunicorn.conf.py" in paths
    assert [path for path in paths if not (ROOT / path).exists()] == []


def test_the_image_collects_static_files_as_they_are_served():
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert re.search(r"DEBUG=0 SECRET_KEY=\S+[\s\\]+python manage.py collectstatic", dockerfile)
    assert "USER portal" in dockerfile


def test_compose_runs_the_processes_and_prometheus_scrapes_the_portal():
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    wanted = {"postgres", "redis", "migrate", "web-a", "web-b", "proxy", "worker", "beat",
              "prometheus"}  # fmt: skip
    assert wanted <= set(services)
    assert "celery -A portal worker" in services["worker"]["command"]
    assert "celery -A portal beat" in services["beat"]["command"]
    # Only the proxy in front of the two replicas has a port, and not a public one.
    assert services["proxy"]["ports"] == ["127.0.0.1:8000:8000"]
    assert [name for name, service in services.items() if "ports" in service and
            name not in ("proxy", "prometheus")] == []  # fmt: skip
    for replica in ("web-a", "web-b"):
        assert f",{replica}," in services[replica]["environment"]["ALLOWED_HOSTS"]
    scrape = yaml.safe_load((DOCKER / "prometheus.yml").read_text())["scrape_configs"][0]
    assert scrape["metrics_path"] == "/metrics"
    assert scrape["static_configs"][0]["targets"] == ["web-a:8000", "web-b:8000"]

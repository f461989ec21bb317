"""docker/compose.yaml runs two web replicas behind one port, sharing nothing but the engines:
PostgreSQL, Redis and an S3 bucket. No Docker Compose here: the files are read and checked."""

import re

import yaml

from tests.helpers import ROOT

DOCKER = ROOT / "docker"
PORTAL = ("web-a", "web-b", "worker", "beat")


def _services() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]


def test_every_portal_process_keeps_its_files_in_the_one_bucket():
    services = _services()
    envs = [services[name]["environment"] for name in PORTAL]
    for name, env in zip(PORTAL, envs, strict=True):
        assert env["STORAGE_BACKEND"] == "s3", name
        assert env["S3_ENDPOINT_URL"] == "http://minio:9000", name
        assert not any("evidence" in volume for volume in services[name].get("volumes", [])), name
    for key in ("S3_BUCKET", "S3_PREFIX", "DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL"):
        assert len({env[key] for env in envs}) == 1, key
    assert envs[0]["CACHE_URL"].startswith("redis://")


def test_the_bucket_is_made_with_object_lock_before_the_portal_starts():
    services = _services()
    assert services["minio"]["image"].startswith("minio/minio")
    init = " ".join(services["minio-init"]["entrypoint"])
    assert "mc mb" in init and "--with-lock" in init and "S3_BUCKET" in init
    for name in PORTAL:
        assert services[name]["depends_on"]["minio-init"] == {
            "condition": "service_completed_successfully"
        }, name


def test_one_port_and_the_proxy_names_both_replicas():
    services = _services()
    published = [s for s in services.values() for port in s.get("ports", []) if "8000" in port]
    assert published == [services["proxy"]]
    assert services["proxy"]["ports"] == ["127.0.0.1:8000:8000"]
    conf = (DOCKER / "nginx.conf").read_text()
    assert set(re.findall(r"^\s*server (\S+?)[ ;]", conf, re.M)) == {"web-a:8000", "web-b:8000"}
    assert re.search(r"proxy_pass http://portal;", conf)
    for name in ("web-a", "web-b"):
        assert f",{name}," in services[name]["environment"]["ALLOWED_HOSTS"], name


def test_prometheus_scrapes_each_replica():
    scrape = yaml.safe_load((DOCKER / "prometheus.yml").read_text())["scrape_configs"][0]
    assert scrape["static_configs"][0]["targets"] == ["web-a:8000", "web-b:8000"]


def test_worker_and_beat_run_the_celery_commands():
    services = _services()
    assert "celery -A portal worker" in services["worker"]["command"]
    assert "celery -A portal beat" in services["beat"]["command"]

"""A local S3 API for the storage tests: moto's standalone server on a free loopback port."""

import socket
import uuid

import boto3
import pytest

CREDENTIALS = {"S3_ACCESS_KEY_ID": "testing", "S3_SECRET_ACCESS_KEY": "testing"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server():
    """The endpoint URL of a moto S3 server running in a thread for the whole session."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(moto_server, monkeypatch, settings):
    """A fresh bucket, and the portal's kept files stored in it (STORAGE_BACKEND=s3)."""
    return kept_in_bucket(moto_server, monkeypatch, settings)


@pytest.fixture
def locked_bucket(moto_server, monkeypatch, settings):
    """A fresh bucket with Object Lock, the kept files stored in it under 30 days of retention."""
    monkeypatch.setenv("EVIDENCE_OBJECT_LOCK_DAYS", "30")
    return kept_in_bucket(moto_server, monkeypatch, settings, ObjectLockEnabledForBucket=True)


def kept_in_bucket(endpoint: str, monkeypatch, settings, **create):
    """(boto3 client, bucket name) of a new bucket that settings.STORAGES now keep files in."""
    from portal.settings import kept_files_storage

    name = f"portal-{uuid.uuid4().hex[:12]}"
    env = {"STORAGE_BACKEND": "s3", "S3_BUCKET": name, "S3_PREFIX": "portal/",
           "S3_REGION": "us-east-1", "S3_ENDPOINT_URL": endpoint, **CREDENTIALS}  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    client = s3_client(endpoint)
    client.create_bucket(Bucket=name, **create)
    kept = {kind: kept_files_storage() for kind in ("evidence", "packets", "exports", "specs")}
    settings.STORAGES = {**settings.STORAGES, **kept}
    return client, name


def s3_client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip

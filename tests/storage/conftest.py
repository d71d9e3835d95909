"""A real S3-compatible server for the storage tests: moto's, on a free loopback port, for the session.

Tests talk to it over HTTP with boto3 exactly as a deployment talks to AWS or MinIO; `reelforge serve`
subprocesses reach it through the environment `s3_env` returns.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port

REGION = "us-east-1"
# Fake credentials for moto, given the way a deployment gives real ones: the standard AWS variables.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "rf-test-access-key",
    "AWS_SECRET_ACCESS_KEY": "rf-test-secret-key",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",  # never the developer's own profile
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    return dict(AWS_ENV)


@pytest.fixture
def s3_client(s3_endpoint: str, aws_env: dict[str, str]):  # type: ignore[no-untyped-def]
    from reelforge.storage.s3 import s3_client

    return s3_client(s3_endpoint, REGION, "path")


@pytest.fixture
def bucket(s3_client) -> str:  # type: ignore[no-untyped-def]
    """A fresh, empty bucket per test."""
    name = f"rf-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


def s3_env(endpoint: str, bucket: str, **extra: str) -> dict[str, str]:
    """Environment for a `reelforge serve` that keeps everything in `bucket`."""
    return {
        **AWS_ENV,
        "REELFORGE_STORAGE": "s3",
        "REELFORGE_S3_BUCKET": bucket,
        "REELFORGE_S3_PREFIX": "rf/",
        "REELFORGE_S3_ENDPOINT_URL": endpoint,
        "REELFORGE_S3_REGION": REGION,
        "REELFORGE_S3_ADDRESSING_STYLE": "path",
        **extra,
    }


def bucket_keys(client, bucket: str) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", []))


SMALL_MODELS = """
[models.t2v]
engine = "draft"
kind = "text_to_video"
description = "small text to video for storage tests"
credits_per_second = 1
durations = [5, 8]
aspect_ratios = ["16:9", "9:16", "1:1"]
height = 144
fps = 12

[models.i2v]
engine = "draft"
kind = "image_to_video"
description = "small image to video for storage tests"
credits_per_second = 1
durations = [5, 8]
height = 144
fps = 12
"""


@pytest.fixture
def small_models(tmp_path: Path) -> str:
    """A catalog whose t2v / i2v render 144p at 12 fps: the storage path is under test, not the engine."""
    path = tmp_path / "models.toml"
    path.write_text(SMALL_MODELS)
    return str(path)

"""Settings (environment `REELFORGE_*`) and the model catalog (`models.toml`).

Every default works on a laptop with nothing installed but reelforge: SQLite and files under the data
directory, in-process workers, the `draft` engine.
"""

from __future__ import annotations

import tomllib
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from reelforge.domain.catalog import Catalog, CatalogError, ModelSpec, describe_errors


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("reelforge"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REELFORGE_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    """SQLAlchemy URL; default `sqlite:///<data_dir>/reelforge.db` (WAL mode)."""
    models_file: Path | None = None
    """A `models.toml` replacing the built-in catalog."""
    log_format: Literal["text", "json"] = "text"
    """Log lines as text or JSON objects; read from the environment before settings exist, when logging starts
    (reelforge/observability/logs.py), and declared here so the setting is documented with the others."""
    public_url: str | None = None
    """Base URL of every link the server hands out. Default: the URL each request came in on, and for
    webhook bodies (which have no request) `http://<serve host>:<port>`."""

    # runtime
    lease_seconds: float = 30.0
    heartbeat_seconds: float = 5.0
    max_attempts: int = 3
    poll_interval: float = 0.05
    """How often an idle embedded worker looks for a job (seconds); an idle look is one indexed read."""
    max_running_per_key: int = 0
    """Tasks of one API key running at once, over all workers and models (0: no limit). Whatever the limit,
    a free worker takes the next task of the key with the fewest running, so one key's backlog never starves
    another key; the limit additionally keeps capacity free for other keys. Enforced for every executor."""

    database_pool_size: int = 10
    """PostgreSQL: connections each process keeps open (API server, worker, dispatcher share one pool per
    process). Size the server's `max_connections` for the sum over processes (docs/deploy.md)."""
    database_max_overflow: int = 10
    """PostgreSQL: extra connections a process may open under bursts, closed again when returned."""
    database_pool_recycle: int = 1800
    """PostgreSQL: seconds before a pooled connection is replaced (outlives idle timeouts of proxies/PgBouncer)."""

    # executor (docs/celery.md)
    executor: Literal["embedded", "celery"] = "embedded"
    """`embedded`: worker processes started by `reelforge serve`, polling the job table. `celery`: workers
    on any host (`reelforge worker --executor celery`), told of work through a message broker."""
    broker_url: str = "redis://127.0.0.1:6379/0"
    """Celery broker: `redis://host:6379/0` or `amqp://user:password@host:5672//` (RabbitMQ)."""
    celery_queue_prefix: str = "reelforge"
    """Broker queues are named `<prefix>.<model or group>`; several deployments can share one broker."""
    celery_model_queues: dict[str, str] = Field(default_factory=dict)
    """Model -> group (JSON, e.g. `{"t2v": "draft", "i2v": "draft"}`): the models of a group share one queue,
    served by workers that load all of them. A model not listed has a queue of its own."""
    celery_visibility_timeout: int = 12 * 3600
    """Redis: seconds before a message not yet acknowledged is handed out again. Above the longest job."""
    celery_message_wait: float = 10.0
    """Seconds a Celery worker holding a message waits for a task it may run (all waiting tasks belong to
    keys at their limit) before putting the message back at the end of its queue."""
    celery_reannounce_interval: float = 300.0
    """Seconds between an API server's checks for tasks stranded without a message (waiting that long in a
    queue the broker holds no message for, e.g. after a broker restart that lost its data). 0: never."""

    default_video_model: str = "agnes-video-v2.0"
    """The model of a `/v1/videos` create that names none."""
    idempotency_ttl: int = 24 * 3600
    """Seconds an `Idempotency-Key` keeps answering with the task it first created."""
    max_queued_tasks: int = 10000
    """Bound on tasks waiting in the queue; past it, creates answer 503 (backpressure). 0: no bound."""
    max_queued_per_key: int = 2000
    """Cap on one API key's tasks waiting in the queue, so one key cannot fill `max_queued_tasks` alone;
    past it, that key's creates answer 503 QUEUE_FULL. 0: no cap."""

    # credits
    starter_credits: int = 500
    """Credits granted to the dev key `reelforge serve` creates on first start."""
    dev_key: bool = True
    """`reelforge serve` makes (once per data directory) a dev key with `starter_credits` and prints it. A fleet's
    API servers set false: each host would otherwise add a funded key to the shared database."""

    # HTTP
    query_rate_limit: str = "60/minute"
    """Per-client-IP limit on every read route of every dialect (status, details, lists) and on `/mcp`, in
    `limits` notation; empty: none."""
    key_query_rate_limit: str = "600/minute"
    """Per-API-key limit on the same reads, wherever the key calls from (AVS tokens count for their key);
    empty: none."""
    rate_limit_storage: str = "memory://"
    """Where rate-limit counters live, as a `limits` storage URI. `memory://` counts per API process; a fleet
    sets `redis://host:6379/0` so every API server counts against the same limit."""
    download_url_ttl: int = 7 * 24 * 3600
    """Seconds a signed download URL stays valid at most: never past the output's own expiry, so with the
    defaults (both 7 days) a link lives exactly as long as its output, as AVS's `expiresAt` promises. Every
    dialect's expiry field is the expiry of the links it hands out (docs/contract-choices.md); presigned S3
    URLs live at most 7 days."""

    # artifact storage and output expiry (docs/storage.md)
    storage: Literal["local", "s3"] = "local"
    """Where videos and uploaded inputs live: `local` (under `<data_dir>/artifacts`) or an `s3` bucket that
    API servers and workers on different hosts share. S3 credentials: the standard AWS chain."""
    s3_bucket: str | None = None
    s3_prefix: str = ""
    """Key prefix inside the bucket (e.g. `reelforge/`), so one bucket can hold several deployments."""
    s3_endpoint_url: str | None = None
    """For S3-compatible servers (MinIO: `http://minio:9000`); None: AWS."""
    s3_region: str | None = None
    """None: boto3's own (`AWS_REGION` / `AWS_DEFAULT_REGION` / `~/.aws/config`)."""
    s3_addressing_style: Literal["auto", "virtual", "path"] = "auto"
    """`path` for most MinIO setups (`http://host/bucket/key`); `virtual` for `http://bucket.host/key`."""
    s3_links: Literal["presigned", "redirect"] = "redirect"
    """Download URLs handed out: reelforge `/files` links that redirect (307) to a short-lived presigned URL,
    so reelforge answers old links itself (410 OUTPUT_EXPIRED once the output expired); or `presigned`: S3 GET
    URLs straight to the bucket (no hop through an API server; S3 answers old links with 403/404)."""
    s3_multipart_threshold: int = 64 * 1024 * 1024
    """Files above this size are uploaded in parallel multipart chunks (boto3's managed transfer)."""
    output_ttl: int = 7 * 24 * 3600
    """Seconds a finished task's video and thumbnail are kept after it completed; then they are deleted and
    their links answer 410 OUTPUT_EXPIRED. 0: keep them forever. Fixed per task when it completes."""
    expiry_sweep_interval: float = 60.0
    """How often each API server deletes outputs past their expiry (seconds)."""

    # fetching remote inputs and delivering webhooks
    allow_private_urls: bool = False
    """Allow loopback, private and link-local hosts for both inputs and webhooks (tests, trusted LANs); the two
    settings below decide each on its own. Plain http:// to public hosts is allowed either way; cloud metadata
    addresses, `0.0.0.0` and site-local IPv6 never are."""
    allow_private_input_urls: bool | None = None
    """Allow private hosts for remote inputs (images, videos, audio the workers fetch); None: `allow_private_urls`."""
    allow_private_webhook_urls: bool | None = None
    """Allow private hosts for webhook receivers; None: `allow_private_urls`."""
    fetch_max_bytes: int = 256 * 1024 * 1024
    fetch_timeout: float = 20.0
    data_uri_max_bytes: int = 10 * 1024 * 1024
    max_request_bytes: int = 16 * 1024 * 1024
    """Largest request body; room for one data URI at its cap (base64 adds a third) plus the rest."""
    max_upload_bytes: int = 256 * 1024 * 1024
    """Largest request body on the routes that take file uploads (AVS `/api/v1/videos/*` multipart)."""
    max_tokens_per_key: int = 100
    """Active AVS tokens one API key may hold (a create past it is 409 INVALID_STATE); 0: no limit."""
    min_free_bytes: int = 64 * 1024 * 1024
    """`/healthz` answers 503 (`"disk": "full"`) when the data directory or local artifact store has less free."""
    mcp_embed_max_bytes: int = 2 * 1024 * 1024
    """MCP tool results attach the MP4 itself (an embedded resource) up to this size; 0: links only."""
    mcp_heartbeat_seconds: float = Field(15.0, gt=0, le=20)
    """While an MCP tool waits, a progress notification goes out at least this often, also when the task
    shows no percentage (queued, loading): hosts drop calls that are silent for long (at most 20 s)."""

    webhook_max_attempts: int = 8
    webhook_backoff_base: float = 2.0
    """Seconds before the first retry; doubles each attempt (with jitter)."""
    webhook_timeout: float = 10.0
    webhook_claim_seconds: float = 60.0
    """How long a dispatcher holds an outbox row while delivering it; a dispatcher that dies leaves the row to
    another after this (keep it well above `webhook_timeout`)."""

    @property
    def private_input_urls_allowed(self) -> bool:
        return self.allow_private_urls if self.allow_private_input_urls is None else self.allow_private_input_urls

    @property
    def private_webhook_urls_allowed(self) -> bool:
        if self.allow_private_webhook_urls is None:
            return self.allow_private_urls
        return self.allow_private_webhook_urls

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'reelforge.db'}"

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def work_dir(self) -> Path:
        return self.data_dir / "work"

    @cached_property
    def catalog(self) -> Catalog:
        return load_catalog(self.models_file)


def catalog_origin(path: Path | None = None) -> str:
    """How messages name the catalog: the file's path, or `built-in models.toml`."""
    return "built-in models.toml" if path is None else str(path)


def load_catalog(path: Path | None = None) -> Catalog:
    """Parse `models.toml` (the built-in one when `path` is None) into a validated `Catalog`.

    Raises `CatalogError` naming the file, each bad model and key. The engines' own settings tables are
    checked by `reelforge.engines.base.build_engines` (`reelforge.runtime.loader.check_models` runs both).
    """
    catalog, problems = parse_catalog(path)
    if problems:
        raise CatalogError(catalog_origin(path), problems)
    return catalog


def parse_catalog(path: Path | None = None) -> tuple[Catalog, list[str]]:
    """The models of `models.toml` that are valid, and a problem line for each one that is not.

    Raises `CatalogError` only when the file cannot be read or is not TOML (no model can be told apart).
    """
    origin = catalog_origin(path)
    try:
        if path is None:
            text = resources.files("reelforge").joinpath("models.toml").read_text()
        else:
            text = Path(path).read_text()
    except OSError as exc:
        raise CatalogError(origin, [f"cannot be read ({exc.strerror or type(exc).__name__})"]) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(origin, [f"not valid TOML: {exc}"]) from None
    tables = raw.get("models", {})
    problems = [
        f"{key}: unknown top-level table (the catalog is [models.<name>] tables)" for key in raw if key != "models"
    ]
    if not isinstance(tables, dict):
        raise CatalogError(origin, ["models: must be a table of [models.<name>] tables"])
    models = {}
    for name, table in tables.items():
        if not isinstance(table, dict):
            problems.append(f"model {name!r}: must be a table")
            continue
        try:
            models[name] = ModelSpec(name=name, **{k: v for k, v in table.items() if k != "name"})
        except ValidationError as exc:
            problems += [
                f"model {name!r}: {problem}" for problem in describe_errors(exc, ModelSpec, hidden=frozenset({"name"}))
            ]
        if "name" in table:
            problems.append(f"model {name!r}: name: unknown key (the name is the table's)")
    catalog = Catalog(models=models)
    return catalog, problems + catalog.duplicate_provider_names()

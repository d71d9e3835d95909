"""Schema fuzzing: Schemathesis generates requests from `/openapi.json` and checks every answer.

Two runs over the in-process app (no workers: tasks stay queued), with a real key and AVS token for the
declared auth schemes:

- **every operation** with generated data (valid and invalid by the schema), checked for server errors,
  conformance to the declared response schemas, and ignored auth (a secured operation must refuse a request
  without its credentials);
- **stateful**: sequences that follow the OpenAPI links (create -> get -> content -> remix -> delete, token
  create -> rotate -> revoke), checked the same way plus use after delete (a deleted resource must be gone).

Bounded for CI (`slow`; about 1,500 generated cases, under 3 minutes on 2 cores). A longer run:
`REELFORGE_FUZZ_EXAMPLES=500 REELFORGE_FUZZ_STEPS=200 python -m pytest tests/test_schema_fuzz.py` (examples
per operation, stateful scenarios).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import ignored_auth, not_a_server_error, response_schema_conformance, use_after_free

from reelforge.config import Settings
from reelforge.server import create_app
from reelforge.services import build_services
from tests.asgi import QueueOnly

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("REELFORGE_FUZZ_EXAMPLES", "40"))
STATEFUL_SCENARIOS = int(os.environ.get("REELFORGE_FUZZ_STEPS", "40"))
CHECKS = [not_a_server_error, response_schema_conformance, ignored_auth]
SKIPPED = {"POST /api/actions/ai.video.generate_and_wait"}
"""Waits for a worker to finish (none runs here); its create half is `ai.video.generate`, fuzzed with the rest."""


class Fuzzed:
    """The app, its credentials, and how many cases ran (the count CI asserts)."""

    def __init__(self, data_dir: Path) -> None:
        self.services = build_services(
            Settings(
                data_dir=data_dir,
                allow_private_urls=True,
                query_rate_limit="100000000/minute",
                key_query_rate_limit="100000000/minute",
            )
        )
        self.app = create_app(self.services, QueueOnly(), run_dispatcher=False)
        made = self.services.keys.create("fuzz", 10**12)
        self.key = made.secret
        self.token = self.services.tokens.create(made.key.id, "fuzz").secret
        self.cases = 0
        self.statuses: dict[int, int] = {}
        self.schema: Any = None

    def auth(self, path: str) -> dict[str, str]:
        """The credentials each dialect's clients send (the AVS video routes take a token, not the key)."""
        if path.startswith(("/api/v1/videos", "/api/v1/jobs", "/api/v1/templates")):
            return {"Authorization": f"Bearer {self.token}"}
        if path.startswith(("/v1/", "/agnesapi", "/api/actions")):
            return {"Authorization": f"Bearer {self.key}"}
        return {"key": self.key}

    def prepare(self, case: schemathesis.Case) -> None:
        """Replace whatever credentials were generated with the real ones for the path."""
        kept = {k: v for k, v in (case.headers or {}).items() if k.lower() not in ("key", "authorization")}
        case.headers = {**kept, **self.auth(case.path)}

    def count(self, status: int) -> None:
        self.cases += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    target = Fuzzed(tmp_path_factory.mktemp("fuzz") / "data")
    target.schema = _schema(target)  # one schema (one app lifespan) for both runs
    yield target
    target.services.close()


class WithoutLifespan:
    """The app with a no-op lifespan: Schemathesis starts one per client, and the app's own (MCP sessions)
    runs once per app. No route the schema declares needs it (the executor runs nothing here)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


def _schema(fuzzed: Fuzzed) -> Any:
    schema = schemathesis.openapi.from_asgi("/openapi.json", WithoutLifespan(fuzzed.app))

    @schema.auth()
    class Credentials:
        """The real key or token for each request (explicit auth: `ignored_auth` then probes without it)."""

        def get(self, case: schemathesis.Case, ctx: Any) -> str:
            return "ready"

        def set(self, case: schemathesis.Case, data: str, ctx: Any) -> None:
            fuzzed.prepare(case)

    return schema


def test_every_operation_answers_within_its_schema(fuzzed: Fuzzed) -> None:
    schema = fuzzed.schema
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if label in SKIPPED:
            continue
        operations += 1

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            response = case.call()
            fuzzed.count(response.status_code)
            try:
                case.validate_response(response, checks=CHECKS)
            except (Exception, BaseExceptionGroup) as exc:  # collected: one run reports every operation's failures
                failures.append(f"{case.operation.label}: {str(exc)[:1500]}")

        run()
    assert operations >= 30
    assert not failures, "\n\n".join(failures[:10])


def test_stateful_sequences_follow_the_links(fuzzed: Fuzzed) -> None:
    schema = fuzzed.schema
    machine = schema.as_state_machine()

    class Workflow(machine):  # type: ignore[misc, valid-type]
        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            fuzzed.count(response.status_code)
            case.validate_response(response, checks=[*CHECKS, use_after_free])

    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=8,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
    )


def test_the_runs_were_large_enough(fuzzed: Fuzzed) -> None:
    """Runs after the two above (module order): at least 25 cases per example asked for (1,000 at the CI
    default of 40), none of them answered with a 5xx."""
    print(f"schema fuzzing: {fuzzed.cases} cases, statuses {dict(sorted(fuzzed.statuses.items()))}")
    assert fuzzed.cases >= 25 * EXAMPLES, fuzzed.statuses
    assert not any(status >= 500 for status in fuzzed.statuses), fuzzed.statuses

"""The AVS public video API (`shared/specs/003_*.txt`): JSON-to-video and prompt-to-video jobs.

- `POST /api/v1/videos/from-json` renders an AVS Template JSON v1 with the `compose` engine;
- `POST /api/v1/videos/from-prompt` lets the `creator` engine plan a template from a prompt and assets;
- `GET /api/v1/jobs/{jobId}` reports status and phase (queued, preparing_assets, generating, rendering,
  completed, failed) and, when done, a signed `downloadUrl` with its `expiresAt`;
- `/api/v1/tokens` creates, lists, rotates and revokes the `avs.<tokenId>.<secret>` tokens;
- extension: `/api/v1/templates` stores templates with `{{ NAME }}` merge fields, and
  `POST /api/v1/videos/from-template` renders one with merge values, one job per merge set (`templates`).
Auth is `Authorization: Bearer avs.<tokenId>.<secret>` with a public-API token. Costs as the contract
lists: render 5, creator step 3, and uploads by type (video 5, image 0, audio 3), URLs included.
Webhooks: on the terminal state, signed `X-AVS-Signature: sha256=<hex>` with the job's secret.

Modules: `protocol` (the bodies as pydantic models), `uploads` (reading JSON or multipart), `translate`
(to a `Submission`), `routes` and `tokens` (the HTTP routes). Creates go through the create path.
"""

from __future__ import annotations

from reelforge.api.dialect import Dialect, generic_body
from reelforge.api.dialects.avs.routes import FAST_READS, render_job
from reelforge.api.dialects.avs.routes import router as jobs_router
from reelforge.api.dialects.avs.templates import router as templates_router
from reelforge.api.dialects.avs.tokens import router as tokens_router
from reelforge.api.dialects.avs.translate import DIALECT, JSON_MODEL, PROMPT_MODEL, requested_seconds

AVS_DIALECT = Dialect(
    DIALECT,
    (jobs_router, tokens_router, templates_router),
    generic_body,
    render_job,
    prefixes=("/api/v1/videos", "/api/v1/jobs", "/api/v1/tokens", "/api/v1/templates"),
    reads=FAST_READS,
)


__all__ = ["AVS_DIALECT", "JSON_MODEL", "PROMPT_MODEL", "render_job", "requested_seconds"]

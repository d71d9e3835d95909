"""Stored templates with merge fields: an extension of the AVS dialect (not in the AVS contract).

- `POST /api/v1/templates` `{name?, template, defaults?}` stores an AVS Template JSON v1 whose strings may
  hold `{{ NAME }}` merge fields (`reelforge.domain.merge`); `GET` lists (`limit`, `offset`) and reads one,
  `PUT /api/v1/templates/{id}` replaces any of name, template and defaults, `DELETE` removes it. A key sees
  only its own templates.
- `POST /api/v1/videos/from-template` `{templateId, merge, output?, webhook?}` renders it: `merge` is one
  object of field values (-> one job, the AvsJob answer of `from-json`) or a list of up to
  `MAX_BATCH` objects (-> one job per object, `{"jobs": [AvsJob, ...]}`), each job charged and tracked on
  its own, through the one create path.

Everything is checked before any credit is taken: each merge set's unknown and missing fields
(`/merge/3/NAME`), the merged template as `from-json` checks it (`/template/blocks/0/duration`, the
message naming the merge set), the engine's own checks, and, for a batch, that the key's balance covers
every job. A template whose every field has a default is checked whole when it is stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from typing import Any

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from reelforge.accounts.tokens import ApiToken
from reelforge.api.deps import get_create_path, get_services
from reelforge.api.dialect import dialect_router, generic_body
from reelforge.api.dialects.avs import translate
from reelforge.api.dialects.avs.protocol import AvsJob, FromJsonRequest, errors, parse_body
from reelforge.api.dialects.avs.routes import limit_token, render_job, require_public_token
from reelforge.api.links import links_for
from reelforge.api.openapi import inline_schema
from reelforge.api.ratelimit import limit_ip
from reelforge.domain import jsontext, merge
from reelforge.domain.errors import ErrorCode, ReelforgeError, invalid
from reelforge.domain.task import Task
from reelforge.domain.template import MAX_NAME_CHARS, parse_template
from reelforge.edge.create import Build, CreatePath
from reelforge.edge.idempotency import HEADER, Idempotency
from reelforge.edge.uploads import UploadSession
from reelforge.services import Services
from reelforge.store.templates import StoredTemplate, TemplateStore
from reelforge.tasks.service import Submission

MAX_BATCH = 100
"""The most merge sets (jobs) one from-template request may carry."""


# ---------------------------------------------------------------- bodies (for /openapi.json)


class TemplateBody(BaseModel):
    """`POST /api/v1/templates` and `PUT /api/v1/templates/{id}` (on PUT every field is optional)."""

    name: str | None = Field(None, max_length=MAX_NAME_CHARS)
    template: dict[str, Any] = Field(description="AVS Template JSON v1; any string may hold {{ NAME }} fields")
    defaults: dict[str, str | float] = Field(default_factory=dict, description="field -> value when merge has none")


class StoredTemplateOut(BaseModel):
    templateId: str
    name: str
    fields: list[str] = Field(description="the merge field names the template uses")
    defaults: dict[str, Any]
    template: dict[str, Any]
    createdAt: str
    updatedAt: str


class StoredTemplateList(BaseModel):
    templates: list[StoredTemplateOut]


class FromTemplateRequest(BaseModel):
    """`POST /api/v1/videos/from-template`."""

    templateId: str
    merge: dict[str, str | float] | list[dict[str, str | float]] = Field(
        default_factory=dict, description=f"field values: one object (one job) or a list of up to {MAX_BATCH}"
    )
    output: dict[str, Any] | None = Field(None, description="as for from-json")
    webhook: dict[str, Any] | None = Field(None, description="as for from-json; every job of a batch uses it")


class AvsJobBatch(BaseModel):
    jobs: list[AvsJob]


# ---------------------------------------------------------------- checks


def render_template(stored: StoredTemplate) -> dict[str, Any]:
    return {
        "templateId": stored.id,
        "name": stored.name,
        "fields": list(merge.fields(stored.template)),
        "defaults": stored.defaults,
        "template": stored.template,
        "createdAt": stored.created_at.isoformat(),
        "updatedAt": stored.updated_at.isoformat(),
    }


def _checked_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_CHARS:
        raise invalid(f"name must be a non-empty string of at most {MAX_NAME_CHARS} characters", "/name")
    return value.strip()


def checked_template(template: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    """A template fit to store: an object with version "1" and blocks; whole-checked when every field has
    a default (a field without one may stand where only its value can be checked, e.g. a number)."""
    if not isinstance(template, dict):
        raise invalid("template must be an AVS Template JSON v1 object", "/template")
    if template.get("version") != "1":
        raise invalid('version must be "1" (AVS Template JSON v1)', "/template/version")
    if not isinstance(template.get("blocks"), list) or not template["blocks"]:
        raise invalid("blocks must be a non-empty list", "/template/blocks")
    used = merge.fields(template, "/template")
    for name in defaults:
        if name not in used:
            raise invalid(
                f"the template has no field {name!r} (its fields: {', '.join(used) or 'none'})", f"/defaults/{name}"
            )
    if set(used) <= set(defaults):
        parse_template(merge.apply(template, {}, defaults=defaults), prefix="/template")
    return template


def _fields_of(payload: dict[str, Any], current: StoredTemplate | None) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(name, template, defaults) from a create or update body; an update keeps what it does not send."""
    unknown = sorted(set(payload) - {"name", "template", "defaults"})
    if unknown:
        raise invalid(f"unknown field {unknown[0]!r}; a template has name, template and defaults", f"/{unknown[0]}")
    if current is None and "template" not in payload:
        raise invalid("template is required: an AVS Template JSON v1 object", "/template")
    defaults = (
        merge.check_values(payload["defaults"], "/defaults")
        if payload.get("defaults") is not None
        else (current.defaults if current is not None else {})
    )
    if "template" in payload:
        template = checked_template(payload["template"], defaults)
    else:
        assert current is not None  # a create without a template was refused above
        template = checked_template(current.template, defaults)
    if payload.get("name") is not None:
        name = _checked_name(payload["name"])
    elif current is not None:
        name = current.name
    else:
        name = str(template.get("name") or "untitled")[:MAX_NAME_CHARS]
    return name, template, defaults


async def _json_object(request: Request) -> dict[str, Any]:
    body = await request.body()
    if not body.strip():
        raise invalid("the request body must be a JSON object")
    try:
        payload = jsontext.loads(body)
    except ValueError as exc:
        raise invalid(f"the request body is not valid JSON{jsontext.why(exc)}") from None
    if not isinstance(payload, dict):
        raise invalid("the request body must be a JSON object")
    return payload


# ---------------------------------------------------------------- CRUD

router = dialect_router(generic_body, tags=["AVS stored templates (extension)"])


@router.post(
    "/api/v1/templates",
    status_code=201,
    summary="Store a template with {{ NAME }} merge fields (extension)",
    response_model=StoredTemplateOut,
    responses=errors(400, 401, 403),
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": inline_schema(TemplateBody)}}}
    },
)
async def create_template(
    request: Request, token: ApiToken = Depends(require_public_token), services: Services = Depends(get_services)
) -> JSONResponse:
    payload = await _json_object(request)

    def store() -> StoredTemplate:
        name, template, defaults = _fields_of(payload, None)
        return TemplateStore(services.db).create(token.key_id, name, template, defaults)

    return JSONResponse(render_template(await asyncio.to_thread(store)), status_code=201)


@router.get(
    "/api/v1/templates",
    summary="List this key's stored templates, newest first (extension)",
    response_model=StoredTemplateList,
    responses=errors(400, 401, 403),
    dependencies=[Depends(limit_ip), Depends(limit_token)],
)
def list_templates(
    limit: int = Query(20, ge=1, le=100),
    offset: int = Query(0, ge=0, le=2**31 - 1),
    token: ApiToken = Depends(require_public_token),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    stored = TemplateStore(services.db).list(token.key_id, limit=limit, offset=offset)
    return {"templates": [render_template(t) for t in stored]}


@router.get(
    "/api/v1/templates/{template_id}",
    summary="One stored template (extension)",
    response_model=StoredTemplateOut,
    responses=errors(401, 403, 404),
    dependencies=[Depends(limit_ip), Depends(limit_token)],
)
def get_template(
    template_id: str, token: ApiToken = Depends(require_public_token), services: Services = Depends(get_services)
) -> dict[str, Any]:
    return render_template(TemplateStore(services.db).get(token.key_id, template_id))


@router.put(
    "/api/v1/templates/{template_id}",
    summary="Replace a stored template's name, template or defaults (extension)",
    response_model=StoredTemplateOut,
    responses=errors(400, 401, 403, 404),
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": inline_schema(TemplateBody)}}}
    },
)
async def update_template(
    template_id: str,
    request: Request,
    token: ApiToken = Depends(require_public_token),
    services: Services = Depends(get_services),
) -> JSONResponse:
    payload = await _json_object(request)

    def store() -> StoredTemplate:
        templates = TemplateStore(services.db)
        name, template, defaults = _fields_of(payload, templates.get(token.key_id, template_id))
        return templates.update(token.key_id, template_id, name=name, template=template, defaults=defaults)

    return JSONResponse(render_template(await asyncio.to_thread(store)))


@router.delete(
    "/api/v1/templates/{template_id}",
    status_code=204,
    summary="Delete a stored template (jobs rendered from it are kept) (extension)",
    responses=errors(401, 403, 404),
)
def delete_template(
    template_id: str, token: ApiToken = Depends(require_public_token), services: Services = Depends(get_services)
) -> JSONResponse:
    TemplateStore(services.db).delete(token.key_id, template_id)
    return JSONResponse(None, status_code=204)


# ---------------------------------------------------------------- render


def _merge_sets(payload: dict[str, Any]) -> tuple[list[tuple[str, Any]], bool]:
    """[(pointer, values)] and whether the caller sent a list (a batch answer)."""
    values = payload.get("merge", {})
    if isinstance(values, list):
        if not values:
            raise invalid("merge is an empty list: give one object of field values per video", "/merge")
        if len(values) > MAX_BATCH:
            raise invalid(f"merge has {len(values)} sets; one request renders at most {MAX_BATCH}", "/merge")
        return [(f"/merge/{i}", item) for i, item in enumerate(values)], True
    return [("/merge", values)], False


def build_submissions(payload: dict[str, Any], stored: StoredTemplate, services: Services) -> list[Submission]:
    """One checked `Submission` per merge set, or the first problem as INVALID_PAYLOAD with its pointer."""
    sets, _ = _merge_sets(payload)
    submissions = []
    for pointer, raw in sets:
        values = merge.check_values(raw, pointer)
        filled = merge.apply(stored.template, values, defaults=stored.defaults, merge_pointer=pointer)
        body = {"template": filled, "output": payload.get("output"), "webhook": payload.get("webhook")}
        try:
            parsed = parse_body(FromJsonRequest, {k: v for k, v in body.items() if v is not None})
            submission = translate.from_json(parsed, {}, services.settings)
            services.tasks.validate(services.tasks.model(submission.model), submission.request)
        except ReelforgeError as exc:
            if len(sets) > 1 or values:
                exc.message = f"{exc.message} (template {stored.id} with the values of {pointer})"
            raise
        echoed = {"templateId": stored.id, "merge": values, "output": submission.input.get("output")}
        submissions.append(dataclasses.replace(submission, input=echoed))
    return submissions


def _check_balance(key_id: str, submissions: list[Submission], services: Services) -> None:
    """A batch is refused whole when the key cannot pay for every job (before any is charged)."""
    if len(submissions) < 2:
        return  # one job: the task service's own check, in its transaction
    total = sum(services.tasks.model(s.model).price(s.request) for s in submissions)
    if services.tasks.balance(key_id) < total:
        raise ReelforgeError(
            ErrorCode.INSUFFICIENT_CREDITS, f"Insufficient credits: the {len(submissions)} videos cost {total}"
        )


def _idempotency(request: Request, payload: dict[str, Any], index: int, count: int) -> Idempotency:
    key = request.headers.get(HEADER)
    if key is None:
        return Idempotency()
    checked = Idempotency.of(key, translate.DIALECT, "from-template", payload)
    if count == 1:
        return checked
    digest = hashlib.sha256(f"{checked.digest}:{index}".encode()).hexdigest()
    return Idempotency(f"{checked.key}#{index}", digest)  # one job per set, each repeat-safe


def _ready(submission: Submission) -> Build:
    """A create path `build` for a submission checked in advance (a stored template stores no uploads)."""

    def build(_session: UploadSession) -> Submission:
        return submission

    return build


def render_from_template(
    request: Request, payload: dict[str, Any], key_id: str, create_path: CreatePath, services: Services
) -> tuple[list[Task], bool]:
    """Blocking: check every merge set, then create one job per set through the create path."""
    template_id = payload.get("templateId")
    if not isinstance(template_id, str) or not template_id:
        raise invalid("templateId is required: the id POST /api/v1/templates answered", "/templateId")
    unknown = sorted(set(payload) - {"templateId", "merge", "output", "webhook"})
    if unknown:
        raise invalid(f"unknown field {unknown[0]!r}; send templateId, merge, output and webhook", f"/{unknown[0]}")
    stored = TemplateStore(services.db).get(key_id, template_id)
    _, batch = _merge_sets(payload)
    submissions = build_submissions(payload, stored, services)
    _check_balance(key_id, submissions, services)
    tasks = []
    for index, submission in enumerate(submissions):
        idempotency = _idempotency(request, payload, index, len(submissions))
        tasks.append(create_path.create(key_id, _ready(submission), idempotency))
    return tasks, batch


@router.post(
    "/api/v1/videos/from-template",
    status_code=202,
    summary="Render a stored template with merge values: one job, or one per merge set (extension)",
    response_model=AvsJob | AvsJobBatch,
    responses=errors(400, 401, 402, 403, 404, 409, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline_schema(FromTemplateRequest)}},
        }
    },
)
async def from_template(
    request: Request,
    token: ApiToken = Depends(require_public_token),
    create_path: CreatePath = Depends(get_create_path),
    services: Services = Depends(get_services),
) -> JSONResponse:
    payload = await _json_object(request)
    tasks, batch = await asyncio.to_thread(render_from_template, request, payload, token.key_id, create_path, services)
    links = links_for(request)
    if batch:
        return JSONResponse({"jobs": [render_job(task, links) for task in tasks]}, status_code=202)
    return JSONResponse(render_job(tasks[0], links), status_code=202)

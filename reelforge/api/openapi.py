"""What every dialect needs to declare its routes in `/openapi.json`: error responses and inline schemas.

FastAPI declares a body it parses itself; a route that reads JSON *or* multipart declares both through
`openapi_extra`, whose schemas must be self-contained (they are not components, so a pydantic `$defs`
reference would dangle). Error responses carry each dialect's own error model.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

Responses = dict[int | str, dict[str, Any]]


def error_responses(model: type[BaseModel], descriptions: Mapping[int, str], *statuses: int) -> Responses:
    """`responses=` for a route: each status with `model` as its body, and `default` for everything else.

    `default` also keeps FastAPI from listing its generic 422: in these APIs a body that fails validation is
    a 400 in the dialect's shape.
    """
    declared: Responses = {status: {"model": model, "description": descriptions[status]} for status in statuses}
    declared["default"] = {"model": model, "description": "Any other failure, in the same shape"}
    return declared


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """`model`'s JSON schema (by alias) with every `$ref` replaced by its definition."""
    schema = model.model_json_schema(by_alias=True)
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return resolve({**copy.deepcopy(definitions[ref.removeprefix("#/$defs/")]), **rest})
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)

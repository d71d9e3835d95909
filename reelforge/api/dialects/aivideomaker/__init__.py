"""The AIVideoMaker API v1 (`shared/specs/000_*.txt`): `/api/v1/generate/{model}` and `/api/v1/tasks/...`.

Contract points kept exactly: the `key` header; per-model fields and allowed values; credit costs; the
create answer `{status: "SUBMITTED", taskId, responseUrl, statusUrl, cancelUrl}`; errors as
`{status: "FAILED", message}` (plus a stable `code`, and `field` for payload errors); statuses SUBMITTED,
PROGRESS, COMPLETED, FAILED, CANCEL; cancel only while SUBMITTED (409 otherwise); 60 queries per minute per
IP with 429 + Retry-After. Additions that leave the contract intact: an optional `seed` (reproducible
output), an optional `aspectRatio` for i2v/lv, and `progress` and `error` in task bodies.

- `protocol`: the contract as pydantic models (create bodies per model kind, answers, the error body).
- `translate`: a create body to a `Submission` (the create path's `build`), a task to the contract's body.
- `routes`: the router, and `AIVIDEOMAKER_DIALECT`, the value the composition root lists.
"""

from reelforge.api.dialects.aivideomaker.routes import AIVIDEOMAKER_DIALECT

__all__ = ["AIVIDEOMAKER_DIALECT"]

"""Webhook signatures, one function per scheme.

- `standard`: Standard Webhooks (https://www.standardwebhooks.com) through the `standardwebhooks`
  package; receivers verify with any Standard Webhooks library and the key's `whsec_...` secret.
- `avs`: the AVS public API's `X-AVS-Signature: sha256=<hex HMAC-SHA256 of the raw body>` with the
  secret the caller gave when creating the job, plus `X-AVS-Event` and `X-AVS-Timestamp` (the attempt's
  send time, UTC ISO 8601 with milliseconds: `2026-04-07T18:00:08.123Z`, the API's timestamp format).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from standardwebhooks import Webhook

# Total deliveries per event: AVS promises "up to 3 retries"; Standard uses the configured maximum.
AVS_MAX_ATTEMPTS = 4
# The three AVS retries wait these multiples of `webhook_backoff_base` (30 s, 2 min and 10 min at the default
# 2 s), so a receiver that is down for minutes (a deploy, a restart) still gets the event; a plain doubling
# spent all three retries in 14 s.
AVS_RETRY_STEPS = (15, 60, 300)


def standard_headers(secret: str, msg_id: str, body: str, when: datetime) -> dict[str, str]:
    signature = Webhook(secret).sign(msg_id, when, body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
    }


def avs_signature(secret: str, body: str | bytes) -> str:
    raw = body.encode() if isinstance(body, str) else body
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def avs_headers(secret: str, event: str, msg_id: str, body: str, when: datetime) -> dict[str, str]:
    """`X-AVS-Delivery` (the event id, the same on every retry) is an addition for de-duplication."""
    return {
        "X-AVS-Event": event,
        "X-AVS-Timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
        "X-AVS-Signature": avs_signature(secret, body),
        "X-AVS-Delivery": msg_id,
    }

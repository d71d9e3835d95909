"""Standard Webhooks signatures (https://www.standardwebhooks.com), through the `standardwebhooks` package.

Receivers verify with any Standard Webhooks library and the key's `whsec_...` secret.
"""

from __future__ import annotations

from datetime import datetime

from standardwebhooks import Webhook


def standard_headers(secret: str, msg_id: str, body: str, when: datetime) -> dict[str, str]:
    signature = Webhook(secret).sign(msg_id, when, body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
    }

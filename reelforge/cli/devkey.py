"""The development key `reelforge serve` creates on first start, so a newcomer can call the API at once.

The dev key is an admin key (the console's operator pages work with it). The database keeps only the key's
hash; the secret is kept in `<data dir>/dev-key.json` (mode 0600) so
the banner can show it on every start. Delete that file or revoke the key to stop using it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from reelforge.domain.errors import ReelforgeError
from reelforge.services import Services

FILENAME = "dev-key.json"


@dataclass(frozen=True)
class DevKey:
    id: str
    secret: str
    webhook_secret: str
    balance: int
    created: bool


def ensure_dev_key(services: Services) -> DevKey:
    path = services.settings.data_dir / FILENAME
    if path.exists():
        saved = json.loads(path.read_text())
        try:
            key = services.keys.authenticate(saved["secret"])
            if not key.admin:  # a dev key from before admin keys existed
                services.keys.set_admin(key.id)
            return DevKey(key.id, saved["secret"], key.webhook_secret, services.keys.balance(key.id), False)
        except (ReelforgeError, KeyError):
            pass  # revoked or from another database: make a new one
    created = services.keys.create(name="dev", credits=services.settings.starter_credits, admin=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"id": created.key.id, "secret": created.secret}, handle)
    return DevKey(created.key.id, created.secret, created.key.webhook_secret, services.settings.starter_credits, True)

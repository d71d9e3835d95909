"""An S3 bucket lifecycle rule matching `REELFORGE_OUTPUT_TTL`: the safety net behind the expiry sweep.

The sweep (expiry.py) is what the API relies on; this rule only makes the bucket delete task outputs on its
own should no API server run for a while. S3 counts whole days from an object's upload, so the rule expires
`tasks/` objects one day after the TTL rounded up to days, never before the API promised to keep them.
It also aborts multipart uploads a crashed worker left incomplete.

    python -m reelforge.storage.lifecycle            # print the rule (JSON) for the configured bucket
    python -m reelforge.storage.lifecycle --apply    # merge it into the bucket's lifecycle configuration
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

RULE_ID = "reelforge-output-expiry"


def lifecycle_rule(prefix: str, output_ttl: int) -> dict[str, Any] | None:
    """The rule for outputs under `<prefix>tasks/`, or None when outputs are kept forever (TTL 0)."""
    if output_ttl <= 0:
        return None
    return {
        "ID": RULE_ID,
        "Status": "Enabled",
        "Filter": {"Prefix": f"{prefix}tasks/"},
        "Expiration": {"Days": math.ceil(output_ttl / 86400) + 1},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }


def apply_lifecycle(client: Any, bucket: str, rule: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Replace reelforge's rule in the bucket's lifecycle configuration, keeping every other rule."""
    try:
        rules = client.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", [])
    except client.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchLifecycleConfiguration":
            raise
        rules = []
    rules = [existing for existing in rules if existing.get("ID") != RULE_ID] + ([rule] if rule else [])
    if rules:
        client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    else:
        client.delete_bucket_lifecycle(Bucket=bucket)
    return rules


def main(argv: list[str] | None = None) -> int:
    from reelforge.config import Settings
    from reelforge.storage.s3 import normal_prefix, s3_client

    parser = argparse.ArgumentParser(
        prog="python -m reelforge.storage.lifecycle",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--apply", action="store_true", help="write the rule into the bucket's configuration")
    args = parser.parse_args(argv)
    settings = Settings()
    if settings.storage != "s3" or not settings.s3_bucket:
        parser.error("set REELFORGE_STORAGE=s3 and REELFORGE_S3_BUCKET (and the endpoint/region) first")
    rule = lifecycle_rule(normal_prefix(settings.s3_prefix), settings.output_ttl)
    if not args.apply:
        print(json.dumps({"Rules": [rule] if rule else []}, indent=2))
        return 0
    client = s3_client(settings.s3_endpoint_url, settings.s3_region, settings.s3_addressing_style)
    rules = apply_lifecycle(client, settings.s3_bucket, rule)
    print(json.dumps({"Rules": rules}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

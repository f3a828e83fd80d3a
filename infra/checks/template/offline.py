"""What keeps infra/check.py offline and quiet: fake credentials in a fixed region; no profile,
session token, endpoint or config file taken from the caller's environment; and the log lines
of moto and the SAM translator that the check reports itself (or that mean nothing offline)
filtered.

Invariant: call `isolate()` before any boto3 client is made; after it, no request can reach
AWS with real credentials.
"""

from __future__ import annotations

import logging
import os

from .. import cfn_model


def isolate() -> None:
    os.environ.update(
        AWS_DEFAULT_REGION=cfn_model.REGION,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    for leak in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(leak, None)
    # moto logs each resource type it skips; deploy.py collects them from its warnings instead.
    logging.getLogger("moto").addFilter(lambda record: "No Moto CloudFormation support" not in record.getMessage())
    # The translator's usage metrics go nowhere offline; it warns about that when collected.
    logging.getLogger("samtranslator.metrics.metrics").setLevel(logging.ERROR)

"""The SAM transform, offline: the template as `sam package` leaves it (the local CodeUri
replaced by an S3 location), then `aws-sam-translator` with moto answering its IAM lookups.

Invariant: the transformed template has no `AWS::Serverless::*` resource left and the
function's Kinesis event became exactly one event-source mapping; it is written to
`<build>/template.transformed.json`, which cfn-lint and moto then read.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..cfn_model import INFRA
from .report import Report, display

# The bucket `sam package` uploads the function's zip to; deploy.py creates it in moto.
ARTIFACTS = "eventlake-artifacts"


def packaged(template: dict) -> dict:
    """The template as `sam package` leaves it: local CodeUri replaced by an S3 location."""
    out = json.loads(json.dumps(template))
    for name, r in out["Resources"].items():
        if r["Type"] == "AWS::Serverless::Function":
            code = r["Properties"]["CodeUri"]
            if (INFRA / code).parent != INFRA / "build" or not code.endswith(".zip"):
                raise ValueError(f"{name}: CodeUri {code} is not the zip infra/build-lambda.sh writes to infra/build/")
            r["Properties"]["CodeUri"] = f"s3://{ARTIFACTS}/bootstrap.zip"
    return out


def transformed(template: dict) -> dict:
    import boto3
    from moto import mock_aws
    from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
    from samtranslator.translator.transform import transform

    with mock_aws():
        return transform(packaged(template), {}, ManagedPolicyLoader(boto3.client("iam")))


def check(report: Report, source: dict, build: Path) -> tuple[dict, Path]:
    """The transformed template and the file it was written to."""
    out = transformed(source)
    build.mkdir(exist_ok=True)
    path = build / "template.transformed.json"
    path.write_text(json.dumps(out, indent=1))
    kinds = sorted({r["Type"] for r in out["Resources"].values()})
    report.ok("no SAM resource left", not [k for k in kinds if k.startswith("AWS::Serverless::")], kinds)
    esm = [n for n, r in out["Resources"].items() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    report.ok("the Kinesis event became one event-source mapping", len(esm) == 1, esm)
    report.note(f"{len(out['Resources'])} resources after the transform, written to {display(path)}")
    return out, path

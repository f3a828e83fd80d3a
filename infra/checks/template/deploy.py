"""CreateStack of the transformed template on moto's CloudFormation, in process, for one ingest
mode, in a fresh mock account with the network, certificate and artifact bucket the stack
takes as given.

moto skips some resource types (it warns, and still says CREATE_COMPLETE) and drops some
properties of those it creates; created.py and created_tasks.py assert on what moto created,
read back through the service APIs, and skipped.py on the parsed template. Invariant: every
resource of the mode is created by moto or of a type moto says it skips, nothing whose
Condition is false is created, and the role policies moto created equal cfn_model's
resolution, which permissions.py evaluates.
"""

from __future__ import annotations

import ast
import io
import json
import re
import warnings
import zipfile

from .. import cfn_model
from ..cfn_model import Stack
from . import created, created_tasks, skipped
from .report import Report
from .transform import ARTIFACTS


def network() -> dict[str, str]:
    """What the stack is given: VPC, subnets, certificate; and the Lambda zip `sam package` uploads."""
    import boto3

    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"{cfn_model.REGION}{'abab'[i]}")["Subnet"]["SubnetId"]
        for i in range(4)
    ]
    cert = boto3.client("acm").request_certificate(DomainName="api.example.com")["CertificateArn"]
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=ARTIFACTS, CreateBucketConfiguration={"LocationConstraint": cfn_model.REGION})
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        z.writestr(info, b"\x7fELF placeholder")
    s3.put_object(Bucket=ARTIFACTS, Key="bootstrap.zip", Body=zipped.getvalue())
    return {
        "VpcId": vpc,
        "PrivateSubnetIds": ",".join(subnets[:2]),
        "PublicSubnetIds": ",".join(subnets[2:]),
        "CertificateArn": cert,
    }


def check(report: Report, source: dict, transformed: dict, mode: str) -> list[str]:
    """Create the stack for `mode` and assert on it; the resource types moto skipped."""
    import boto3
    from moto import mock_aws

    with mock_aws(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        given = cfn_model.sample_parameters("dev", **cfn_model.MODES[mode], **network())
        stack = Stack.of(source, given)
        cfn = boto3.client("cloudformation")
        cfn.create_stack(
            StackName=stack.stack_name,
            TemplateBody=json.dumps(transformed),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in given.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        desc = cfn.describe_stacks(StackName=stack.stack_name)["Stacks"][0]
        report.ok("stack CREATE_COMPLETE", desc["StackStatus"] == "CREATE_COMPLETE", desc["StackStatus"])
        summaries = cfn.get_paginator("list_stack_resources").paginate(StackName=stack.stack_name).build_full_result()["StackResourceSummaries"]
        physical = {r["LogicalResourceId"]: r.get("PhysicalResourceId") for r in summaries if r["LogicalResourceId"]}
        expected = Stack.of(transformed, given).resources()
        skipped_types = sorted({m.group(1) for w in caught if (m := re.search(r"parse (AWS::\S+) but it's not supported", str(w.message)))})
        missing = sorted(set(expected) - set(physical))
        unexpected = sorted(set(physical) - set(expected))
        report.ok("no resource created whose Condition is false", not unexpected, unexpected)
        missing_types = sorted({expected[n]["Type"] for n in missing})
        report.ok("every resource moto did not create is of a type moto says it skips", set(missing_types) <= set(skipped_types), (missing_types, skipped_types))
        report.note(f"created by moto: {len(physical)} resources; skipped: {len(missing)} of types {', '.join(missing_types)}")
        groups = created.check(report, stack, physical)
        created_tasks.check(report, stack, physical, groups)
        policies_match(report, stack, physical)
    skipped.check(report, stack, set(missing_types))
    return missing_types


def policies_match(report: Report, stack: Stack, physical: dict) -> None:
    """moto's CloudFormation resolved the role policies exactly as permissions.py reads them."""
    import boto3

    iam = boto3.client("iam")
    ours = {}
    theirs = {}
    for name, r in stack.resources().items():
        if r["Type"] != "AWS::IAM::Role":
            continue
        for policy in stack.resolved(name)["Properties"].get("Policies", []):
            ours[(name, policy["PolicyName"])] = policy["PolicyDocument"]
            doc = iam.get_role_policy(RoleName=physical[name], PolicyName=policy["PolicyName"])["PolicyDocument"]
            # moto 5.2 returns a document created by CloudFormation as the repr of a dict.
            theirs[(name, policy["PolicyName"])] = ast.literal_eval(doc) if isinstance(doc, str) else doc
    renames = {physical[n]: stack.physical_name(n) for n, r in stack.resources().items() if r["Type"] == "AWS::IAM::Role" and physical.get(n)}
    # moto leaves `${X}` as it is when X is a resource it skipped: resolve those as we do.
    unresolved = {n: str(stack.ref(n)) for n in stack.resources() if n not in physical}
    differ = []
    for key, doc in theirs.items():
        text = json.dumps(doc, sort_keys=True)
        for theirs_name, our_name in renames.items():
            text = text.replace(theirs_name, our_name)
        for name, value in unresolved.items():
            text = text.replace("${" + name + "}", value)
        if json.loads(text) != ours[key]:
            differ.append(key)
            report.note(f"{key}: moto {text}\n  ours {json.dumps(ours[key], sort_keys=True)}")
    report.ok(f"the {len(ours)} inline role policies moto created equal permissions.py's resolution of the template", not differ, differ)

"""What each role of one stage must be allowed and refused, from the launches that run as it.

For every launch (launches.py): the component its command runs (components.py), the
SDK calls of that component's files (scan.py) turned into requests on the resources its
command and environment name (SDK_RESOURCES, launch_resources), the lake requests
(lake.py), Athena's requests with the caller's identity, and what AWS services do with the
role (platform.py). Invariant: an SDK call SDK_RESOURCES does not map, a resource a call needs
that the launch does not name, or a file with SDK calls that no component claims, is an error.
"""

from __future__ import annotations

from ..cfn_model import Stack
from ..launches import flag_value, launches
from . import platform
from .components import COMPONENTS, NOT_DEPLOYED, component_of
from .iam import Needs, Request
from .lake import forbidden_lake_requests, lake_requests, s3_location
from .scan import Code

# IAM action (service:Operation) -> the kinds of resource IAM authorises it on (launch_resources).
SDK_RESOURCES = {
    "kinesis": {
        "ListShards": ["stream"],
        "GetShardIterator": ["stream"],
        "GetRecords": ["stream"],
        "DescribeStream": ["stream"],
        "DescribeStreamSummary": ["stream"],
        "RegisterStreamConsumer": ["stream"],
        "DescribeStreamConsumer": ["stream_consumer"],
        "SubscribeToShard": ["stream_consumer"],
        "PutRecords": ["stream"],
        "PutRecord": ["stream"],
    },
    "dynamodb": {
        op: ["lease_table"]
        for op in ["DescribeTable", "CreateTable", "Scan", "Query", "GetItem", "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"]
    },
    "glue": {
        "GetDatabase": ["glue_catalog", "glue_database"],
        "CreateDatabase": ["glue_catalog", "glue_database"],
        "GetTables": ["glue_catalog", "glue_database", "glue_table"],
        "GetTable": ["glue_catalog", "glue_database", "glue_table"],
        "CreateTable": ["glue_catalog", "glue_database", "glue_table"],
        "UpdateTable": ["glue_catalog", "glue_database", "glue_table"],
    },
    "athena": {
        op: ["workgroup"]
        for op in ["StartQueryExecution", "GetQueryExecution", "GetQueryResults", "StopQueryExecution"]
    },
}

# A bucket of another stage, for the requests that must be refused.
OTHER_BUCKET = "eventlake-otherstage-000000000000-eu-west-1"


def launch_resources(stack: Stack, launch: dict) -> dict[str, str]:
    """Concrete ARNs of what a launch's code touches, from its command and environment."""
    a, r = stack.account, stack.region
    cmd, env = launch["command"], launch["env"]
    out: dict[str, str] = {}
    stream = flag_value(cmd, "--stream")
    if stream:
        out["stream"] = f"arn:aws:kinesis:{r}:{a}:stream/{stream}"
        consumer = flag_value(cmd, "--efo") or "consumer"
        out["stream_consumer"] = f"{out['stream']}/consumer/{consumer}:1764547200"
    table = flag_value(cmd, "--lease-table") or env.get("EVENTLAKE_LEASE_TABLE")
    if table:
        out["lease_table"] = f"arn:aws:dynamodb:{r}:{a}:table/{table}"
    database = flag_value(cmd, "--database") or env.get("EVENTLAKE_GLUE_DATABASE")
    if database:
        out["glue_catalog"] = f"arn:aws:glue:{r}:{a}:catalog"
        out["glue_database"] = f"arn:aws:glue:{r}:{a}:database/{database}"
        out["glue_table"] = f"arn:aws:glue:{r}:{a}:table/{database}/bronze_events"
    workgroup = flag_value(cmd, "--workgroup") or env.get("EVENTLAKE_ATHENA_WORKGROUP")
    if workgroup:
        out["workgroup"] = f"arn:aws:athena:{r}:{a}:workgroup/{workgroup}"
    return out


def needs_by_role(stack: Stack, code: Code) -> tuple[dict[str, Needs], list[str]]:
    errors: list[str] = list(code.problems)
    roles: dict[str, Needs] = {}
    for launch in launches(stack):
        comp = component_of(launch)
        role = roles.setdefault(launch["role"], Needs())
        role.launches.append(f"{launch['resource']} ({' '.join(launch['command'])})")
        files = comp.files_for(launch["command"])
        res = launch_resources(stack, launch)
        for call in (c for f in files for c in code.calls.get(f, [])):
            action = f"{call.service}:{call.operation}"
            if action in comp.provided:
                continue
            kinds = SDK_RESOURCES.get(call.service, {}).get(call.operation)
            if kinds is None:
                errors.append(f"{call.file}:{call.line} calls {action}, which permissions.py does not map to IAM resources (needs.py SDK_RESOURCES)")
                continue
            for kind in kinds:
                if kind not in res:
                    errors.append(f"{launch['resource']}: {action} ({call.file}:{call.line}) needs a {kind}, which its command/env does not name")
                else:
                    role.allowed.append(Request(action, res[kind], (), f"{call.file}:{call.line}"))
        lake = launch["env"].get("EVENTLAKE_LAKE")
        if not lake:
            errors.append(f"{launch['resource']}: no EVENTLAKE_LAKE")
        else:
            bucket, prefix = s3_location(lake)
            does = code.lake_actions(files)
            allowed, errs = lake_requests(bucket, prefix, comp, does)
            role.allowed += allowed
            errors += errs
            role.refused += forbidden_lake_requests(bucket, prefix, comp, does, OTHER_BUCKET)
        if comp.athena:
            errors += athena_needs(launch, res, role)
        errors += platform.needs(stack, launch, roles)
    errors += unclaimed(code)
    errors += provided_by_stack(stack)
    for needs in roles.values():
        needs.allowed = list(dict.fromkeys(needs.allowed))
        needs.refused = list(dict.fromkeys(needs.refused))
    return roles, list(dict.fromkeys(errors))


def athena_needs(launch: dict, res: dict[str, str], role: Needs) -> list[str]:
    """Athena runs the statements with the caller's identity: the result bucket, and Glue for views."""
    results = launch["env"].get("EVENTLAKE_ATHENA_RESULTS") or flag_value(launch["command"], "--results")
    if not results or "glue_database" not in res:
        return [f"{launch['resource']}: runs Athena statements but names no result location or Glue database"]
    rbucket, rprefix = s3_location(results)
    why = "Athena, with the caller's identity"
    role.allowed += [
        Request("s3:GetBucketLocation", f"arn:aws:s3:::{rbucket}", (), why),
        Request("s3:PutObject", f"arn:aws:s3:::{rbucket}/{rprefix}/0b1c.csv", (), why),
        Request("s3:GetObject", f"arn:aws:s3:::{rbucket}/{rprefix}/0b1c.csv", (), why),
        Request("s3:AbortMultipartUpload", f"arn:aws:s3:::{rbucket}/{rprefix}/0b1c.csv", (), why),
        Request("s3:ListBucket", f"arn:aws:s3:::{rbucket}", (("s3:prefix", f"{rprefix}/"),), why),
    ]
    # CREATE OR REPLACE VIEW: Athena reads the database and writes the view's table.
    for op in ["GetDatabase", "GetTable", "CreateTable", "UpdateTable"]:
        for kind in SDK_RESOURCES["glue"][op]:
            role.allowed.append(Request(f"glue:{op}", res[kind].replace("bronze_events", "dashboard_events_hourly"), (), why))
    return []


def unclaimed(code: Code) -> list[str]:
    """Files with SDK calls no component runs and NOT_DEPLOYED does not explain; stale NOT_DEPLOYED entries."""
    claimed = set().union(*(comp.every_file() for comp in COMPONENTS))
    errors = []
    for rel, calls in sorted(code.calls.items()):
        if rel not in claimed and rel not in NOT_DEPLOYED:
            ops = sorted({f"{c.service}:{c.operation}" for c in calls})
            errors.append(f"{rel} calls {ops} but no deployed component claims it (add it to COMPONENTS or NOT_DEPLOYED in components.py)")
    for rel in NOT_DEPLOYED:
        if rel in claimed:
            errors.append(f"{rel} is in NOT_DEPLOYED, but a component runs it")
        elif rel not in code.calls and rel not in code.lake:
            errors.append(f"{rel} is in NOT_DEPLOYED, but makes no AWS call (SDK or lake)")
    return errors


def provided_by_stack(stack: Stack) -> list[str]:
    """Operations skipped through `provided` need the resource to exist in the stack."""
    errors = []
    resources = stack.resources()
    for launch in launches(stack):
        comp = component_of(launch)
        if "dynamodb:CreateTable" in comp.provided and "--lease-table" in launch["command"]:
            name = flag_value(launch["command"], "--lease-table")
            tables = [stack.resolved(n)["Properties"] for n, r in resources.items() if r["Type"] == "AWS::DynamoDB::Table"]
            match = [t for t in tables if t["TableName"] == name]
            if not match or match[0]["KeySchema"] != [{"AttributeName": "lease_key", "KeyType": "HASH"}]:
                errors.append(f"{launch['resource']}: lease table {name} is not created by the stack with the key the code creates (lease_key)")
        if "glue:CreateDatabase" in comp.provided:
            name = launch["env"].get("EVENTLAKE_GLUE_DATABASE")
            dbs = [stack.resolved(n)["Properties"]["DatabaseInput"]["Name"] for n, r in resources.items() if r["Type"] == "AWS::Glue::Database"]
            if name not in dbs:
                errors.append(f"{launch['resource']}: Glue database {name} is not created by the stack")
    return errors

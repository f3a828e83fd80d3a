"""`python infra/permissions.py --self-test`: break the template and the code on purpose and
show the check fails for each, naming what was broken.

1. Remove each granted action in turn: the check must say that action is refused, for that role.
2. Remove each resource of a multi-resource statement in turn: the check must say a request on
   that resource (as resolved for the stage) is refused, for that role.
3. Template mutations: a wildcard action, a `*` resource, a grant nothing needs, an unscoped
   resource, a delete the role must be refused.
4. Code mutations, made to the sources the scan reads (the scan runs again on the changed
   text): a call through a client another module owns, an operation or service with no
   mapping, a crate with no botocore model, an operation two services share, a call in a file
   no component runs, a lake vacuum where the role may not delete, a commit by read-only code.

Invariant: each case counts as detected only if a failure names what was changed.
"""

from __future__ import annotations

import copy
import re

from .. import cfn_model
from ..cfn_model import Stack
from . import scan
from .audit import run_all
from .iam import glob, listify
from .scan import Code

REFUSED = re.compile(r"^\[(\w+)\] (\w+): (\S+) on (\S+) .*is refused")


def grants(template: dict) -> list[tuple[str, int, int, str]]:
    """(role, policy index, statement index, action) of every Allow."""
    out = []
    for name, r in template["Resources"].items():
        if r["Type"] != "AWS::IAM::Role":
            continue
        for p, policy in enumerate(r["Properties"].get("Policies", [])):
            for s, st in enumerate(listify(policy["PolicyDocument"]["Statement"])):
                if st["Effect"] == "Allow":
                    out += [(name, p, s, action) for action in listify(st["Action"])]
    return out


def without_action(template: dict, role: str, p: int, s: int, action: str) -> dict:
    t = copy.deepcopy(template)
    doc = t["Resources"][role]["Properties"]["Policies"][p]["PolicyDocument"]
    st = doc["Statement"][s]
    actions = [a for a in listify(st["Action"]) if a != action]
    if actions:
        st["Action"] = actions
    else:
        del doc["Statement"][s]
        if not doc["Statement"]:
            del t["Resources"][role]["Properties"]["Policies"][p]
    return t


def removed_actions(template: dict, code: Code) -> bool:
    removals = grants(template)
    missed = []
    for role, p, s, action in removals:
        errors = run_all(without_action(template, role, p, s, action), code)
        if not any(f"] {role}: {action} on ".lower() in e.lower() and "is refused" in e for e in errors):
            missed.append(f"{role}: {action}")
    return report(f"removed each of the {len(removals)} granted actions in turn; the check named it refused for that role", len(removals), missed)


def removed_resources(template: dict, code: Code) -> bool:
    cases = []
    for name, r in template["Resources"].items():
        if r["Type"] != "AWS::IAM::Role":
            continue
        for p, policy in enumerate(r["Properties"].get("Policies", [])):
            for s, st in enumerate(listify(policy["PolicyDocument"]["Statement"])):
                if st["Effect"] == "Allow" and isinstance(st["Resource"], list) and len(st["Resource"]) > 1:
                    cases += [(name, p, s, j) for j in range(len(st["Resource"]))]
    stages = {mode: Stack.of(template, cfn_model.sample_parameters("dev", **o)) for mode, o in cfn_model.MODES.items()}
    missed = []
    for role, p, s, j in cases:
        t = copy.deepcopy(template)
        st = t["Resources"][role]["Properties"]["Policies"][p]["PolicyDocument"]["Statement"][s]
        pattern = st["Resource"].pop(j)
        # The removed resource as each mode resolves it; a refusal must be of a request on it.
        resolved = {mode: stack.resolve(pattern) for mode, stack in stages.items() if role in stack.resources()}
        hits = [m for e in run_all(t, code) if (m := REFUSED.match(e)) and m.group(2) == role and m.group(1) in resolved and glob(resolved[m.group(1)], m.group(4))]
        if not hits:
            missed.append(f"{role}: resource {j} of statement {s} ({pattern})")
    return report(f"removed each of the {len(cases)} resources of multi-resource statements in turn; the check named a request on it refused", len(cases), missed)


def report(what: str, total: int, missed: list[str]) -> bool:
    print(f"self-test: {what}: {total - len(missed)} of {total}")
    for m in missed:
        print(f"  NOT DETECTED: {m}")
    return not missed


def detected(label: str, errors: list[str], expect: tuple[str, ...]) -> bool:
    hit = [e for e in errors if all(x in e for x in expect)]
    print(f"self-test: {label}: {'detected - ' + hit[0] if hit else f'NOT DETECTED as {expect}; failures: {errors[:3]}'}")
    return bool(hit)


def template_mutations(template: dict, code: Code) -> bool:
    def add(role: str, st: dict) -> dict:
        t = copy.deepcopy(template)
        t["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(st)
        return t

    cases = [
        ("a wildcard action (s3:*) on the jobs role",
         add("JobsTaskRole", {"Effect": "Allow", "Action": "s3:*", "Resource": {"Fn::Sub": "${LakeBucket.Arn}/lake/gold/*"}}),
         ("JobsTaskRole/", "wildcard action s3:*")),
        ("Resource * on the serve role",
         add("ServeTaskRole", {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}),
         ("ServeTaskRole/", "Resource * for ['s3:GetObject']")),
        ("an action no code calls (dynamodb:DeleteTable) on the consumer role",
         add("ConsumerTaskRole", {"Effect": "Allow", "Action": "dynamodb:DeleteTable", "Resource": {"Fn::GetAtt": ["LeaseTable", "Arn"]}}),
         ("ConsumerTaskRole/", "grants dynamodb:DeleteTable, which no code or service needs")),
        ("a grant on an unscoped resource (every Kinesis stream of the account)",
         add("ConsumerTaskRole", {"Effect": "Allow", "Action": "kinesis:GetRecords", "Resource": {"Fn::Sub": "arn:${AWS::Partition}:kinesis:${AWS::Region}:${AWS::AccountId}:stream/*"}}),
         ("ConsumerTaskRole/", "stream/* is the same in another stage")),
        ("the ingest Lambda allowed to delete bronze data files",
         add("IngestFunctionRole", {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": {"Fn::Sub": "${LakeBucket.Arn}/lake/bronze/*"}}),
         ("IngestFunctionRole: s3:DeleteObject on", "/lake/bronze/", "is allowed but must not be")),
    ]
    return all([detected(label, run_all(t, code), expect) for label, t, expect in cases])


def code_mutations(template: dict, code: Code) -> bool:
    def with_code(rel: str, text: str) -> Code:
        sources = dict(code.sources)
        sources[rel] = sources[rel] + f"\n// self-test\n{text}\n"
        return scan.read(sources)

    shard = "ingest/src/source/kinesis/shard.rs"
    cases = [
        ("the consumer calling one more operation through the client client.rs owns (shard.rs names no SDK crate)",
         with_code(shard, "async fn injected(k: &KinesisClient) { k.client.describe_stream_summary().stream_name(\"s\").send().await; }"),
         ("[consumer] ConsumerTaskRole: kinesis:DescribeStreamSummary on", f"is refused (needed by {shard}:")),
        ("the consumer calling an operation permissions.py cannot map (kinesis:MergeShards)",
         with_code("ingest/src/source/kinesis/client.rs", "async fn injected(c: &aws_sdk_kinesis::Client) { c.merge_shards().send().await; }"),
         ("ingest/src/source/kinesis/client.rs:", "calls kinesis:MergeShards, which permissions.py does not map")),
        ("ingest calling a service permissions.py does not map (SQS)",
         with_code("ingest/src/ingestor.rs", "async fn injected(c: &aws_sdk_sqs::Client) { c.send_message().send().await; }"),
         ("ingest/src/ingestor.rs:", "calls sqs:SendMessage, which permissions.py does not map")),
        ("a crate with no botocore model",
         with_code("ingest/src/ingestor.rs", "use aws_sdk_nosuchservice::Client;"),
         ("ingest/src/ingestor.rs names aws_sdk_nosuchservice, which has no botocore model",)),
        ("an operation two services share, in a file that names neither",
         with_code("catalog/src/hive.rs", "async fn injected(c: &Client) { c.create_table().send().await; }"),
         ("catalog/src/hive.rs:", "calls `create_table()`, an operation of ['dynamodb', 'glue']")),
        ("an SDK call in a file no component runs",
         with_code("lake/src/storage.rs", "async fn injected(c: &aws_sdk_glue::Client) { c.get_database().send().await; }"),
         ("lake/src/storage.rs calls ['glue:GetDatabase'] but no deployed component claims it",)),
        ("jobs vacuuming (the jobs role may not delete data)",
         with_code("jobs/src/run.rs", "async fn injected(t: Table) { t.vacuum().await; }"),
         ("JobsTaskRole: s3:DeleteObject on", "is refused (needed by vacuum)")),
        ("the catalog committing to the lake (it declares no layer it writes)",
         with_code("catalog/src/glue.rs", "fn injected() { CommitBuilder::default(); }"),
         ("catalog: the code changes the lake", "catalog/src/glue.rs:")),
    ]
    return all([detected(label, run_all(template, c), expect) for label, c, expect in cases])


def run(template: dict, code: Code) -> bool:
    return all([
        removed_actions(template, code),
        removed_resources(template, code),
        template_mutations(template, code),
        code_mutations(template, code),
    ])

"""`python infra/check.py --self-test`: break the template on purpose, one change at a time,
and show that the check fails for each broken copy, for the right reason.

Each mutation names the stage that must catch it; stages.run runs that stage alone (with the
transform first when the stage needs it), which is the full check's code for that stage, so
the mutation is caught by the full check as well. Invariant: a mutation counts as detected only
if a failure of its stage contains every one of its `expect` strings, which name what was
changed; a mutation whose text is gone from the template is itself a failure.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..cfn_model import TEMPLATE
from . import stages


@dataclass(frozen=True)
class Mutation:
    label: str
    old: str  # replaced at its first occurrence
    new: str
    stage: str
    expect: tuple[str, ...]


MUTATIONS = [
    Mutation("the on-failure queue keeps messages longer than SQS allows",
             "QueueName: !Sub eventlake-${Stage}-ingest-failures\n      MessageRetentionPeriod: 1209600",
             "QueueName: !Sub eventlake-${Stage}-ingest-failures\n      MessageRetentionPeriod: 1209601",
             "lint", ("E3034 Resources/IngestFailureQueue/Properties/MessageRetentionPeriod: 1209601",)),
    Mutation("the function's code not the zip build-lambda.sh writes",
             "CodeUri: build/bootstrap.zip", "CodeUri: ../target/bootstrap", "transform", ("CodeUri ../target/bootstrap",)),
    Mutation("StartingPosition OLDEST (inside the SAM function: only the transformed template's lint sees it)",
             "StartingPosition: TRIM_HORIZON", "StartingPosition: OLDEST", "lint-transformed", ("E3031", "/StartingPosition: 'OLDEST' does not match")),
    Mutation("ParallelizationFactor 2", "ParallelizationFactor: 1", "ParallelizationFactor: 2",
             "moto-lambda", ("event-source mapping ParallelizationFactor: 2",)),
    Mutation("health check on /v1/health", "HealthCheckPath: /v1/ready", "HealthCheckPath: /v1/health",
             "moto-lambda", ("health check on /v1/ready", "'/v1/health'")),
    Mutation("the ingest function's log retention not applied",
             "LogGroupName: !Sub /aws/lambda/eventlake-${Stage}-ingest\n      RetentionInDays: !Ref LogRetentionDays",
             "LogGroupName: !Sub /aws/lambda/eventlake-${Stage}-ingest\n      RetentionInDays: 7",
             "moto-lambda", ("log group /aws/lambda/eventlake-dev-ingest retention: 7",)),
    Mutation("/metrics reachable from the internet", 'StatusCode: "404"', 'StatusCode: "403"',
             "moto-lambda", ("HTTPS answers /metrics with 404",)),
    Mutation("serve listening on loopback only", 'Value: "0.0.0.0:8081"', 'Value: "127.0.0.1:8081"',
             "moto-lambda", ("serve listens on every interface at its container port", "127.0.0.1:8081")),
    Mutation("the consumer starting at the tip (records put before its first start never read)",
             "- --start\n            - trim-horizon", "- --start\n            - latest",
             "contract", ("ConsumerService: starts at the stream's oldest record", "latest")),
    Mutation("serve without its JWKS URL (--issuer requires it; no HS256 secret either)",
             "            - { Name: EVENTLAKE_JWKS_URL, Value: !Ref JwksUrl }\n", "",
             "contract", ("ServeService", "--issuer requires --jwks-url")),
    Mutation("serve run with an HS256 secret beside the JWKS URL (clap refuses both)",
             "[serve, --issuer, !Ref TokenIssuer]", "[serve, --issuer, !Ref TokenIssuer, --jwt-secret, x]",
             "contract", ("ServeService", "--jwks-url conflicts with --jwt-secret")),
    Mutation("serve running as the jobs role (moto drops the task role: asserted from the template)",
             "TaskRoleArn: !GetAtt ServeTaskRole.Arn", "TaskRoleArn: !GetAtt JobsTaskRole.Arn",
             "moto-lambda", ("ServeTaskDefinition: task role", "JobsTaskRole")),
    Mutation("the Athena workgroup not enforcing its configuration (moto skips workgroups)",
             "EnforceWorkGroupConfiguration: true", "EnforceWorkGroupConfiguration: false",
             "moto-lambda", ("workgroup enforces its configuration",)),
    Mutation("a job dropped from its schedule", '"-s", "gold_barter_cycles", ', "",
             "contract", ("run by one schedule with exactly those jobs", "gold_barter_cycles")),
    Mutation("a flag the CLI does not have", "- --lease-table\n", "- --lease-tables\n",
             "contract", ("ConsumerService", "unknown flag --lease-tables")),
    Mutation("a value the CLI refuses", '"--only", "vacuum"', '"--only", "vacuums"',
             "contract", ("MaintainVacuumSchedule", "--only vacuums: not one of")),
    Mutation("an environment variable nothing reads", "{ Name: TMPDIR, Value: /tmp }", "{ Name: EVENTLAKE_TMPDIR, Value: /tmp }",
             "contract", ("ConsumerTaskDefinition: every EVENTLAKE_* variable is read", "EVENTLAKE_TMPDIR")),
    Mutation("vacuum off the [maintain] vacuum_schedule", "ScheduleExpression: cron(45 3 * * ? *)", "ScheduleExpression: cron(45 4 * * ? *)",
             "contract", ("vacuum on [maintain] vacuum_schedule", "cron(45 4 * * ? *)")),
]


def run() -> bool:
    text = TEMPLATE.read_text()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for m in MUTATIONS:
            if m.old not in text:
                print(f"self-test: {m.label}: the text to change is gone from the template")
                ok = False
                continue
            path = Path(tmp) / "template.yaml"
            path.write_text(text.replace(m.old, m.new, 1))
            started = time.monotonic()
            try:
                failures = stages.run(path, Path(tmp), (m.stage,)).report.failures
            except SystemExit as e:  # the template no longer loads
                failures = [f"[{m.stage}] {e}"]
            hit = [f for f in failures if f.startswith(f"[{m.stage}] ") and all(e in f for e in m.expect)]
            took = f"{time.monotonic() - started:.1f} s"
            if hit:
                print(f"self-test: {m.label}: detected by {m.stage} ({took}) - {one_line(hit[0])}")
            else:
                print(f"self-test: {m.label}: NOT DETECTED by {m.stage} as {m.expect} ({took}); failures: {[one_line(f) for f in failures[:3]]}")
            ok = ok and bool(hit)
    return ok


def one_line(failure: str, width: int = 200) -> str:
    text = " ".join(failure.split())
    return text if len(text) <= width else text[: width - 1] + "…"

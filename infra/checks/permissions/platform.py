"""What AWS services do with a launch's roles, beyond the code's own calls: the event-source
mapping reading the stream and sending failures to the on-failure queue (with the function's
role), Lambda and ECS shipping logs, ECS pulling the image (the execution role), and the
scheduler running the task and passing its roles (the scheduler role).

Invariant: each need is derived from the launch's resolved resources (the mapping's stream
and destination, the container's image and log group, the schedule's RunTask request), so
the requests name this stage's resources; a launch without one of them is an error.
"""

from __future__ import annotations

import re

from ..cfn_model import Stack
from .iam import Needs, Request


def needs(stack: Stack, launch: dict, roles: dict[str, Needs]) -> list[str]:
    """What AWS services do with the roles of a launch."""
    a, r = stack.account, stack.region
    errors: list[str] = []
    if launch["kind"] == "lambda":
        props = stack.resolved(launch["resource"])["Properties"]
        role = roles[launch["role"]]
        why = "event-source mapping, with the function's role"
        for event in props.get("Events", {}).values():
            if event["Type"] != "Kinesis":
                continue
            ep = event["Properties"]
            for op in ["DescribeStream", "DescribeStreamSummary", "ListShards", "GetShardIterator", "GetRecords"]:
                role.allowed.append(Request(f"kinesis:{op}", ep["Stream"], (), why))
            dest = ep.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            if not dest:
                errors.append(f"{launch['resource']}: the Kinesis mapping has no on-failure destination")
            else:
                role.allowed.append(Request("sqs:SendMessage", dest, (), "on-failure destination"))
        group = props.get("LoggingConfig", {}).get("LogGroup") or f"/aws/lambda/{props['FunctionName']}"
        for op in ["CreateLogStream", "PutLogEvents"]:
            role.allowed.append(Request(f"logs:{op}", f"arn:aws:logs:{r}:{a}:log-group:{group}:log-stream:2026/12/01/[$LATEST]0a1b", (), "Lambda logs"))
        return errors
    # ECS: the execution role pulls the image and ships the container's logs.
    exe = roles.setdefault(launch["execution_role"], Needs())
    exe.launches.append(f"{launch['resource']} (execution role)")
    props = stack.resolved(launch["task_definition"])["Properties"]
    (container,) = props["ContainerDefinitions"]
    m = re.fullmatch(r"(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/([^:@]+)(?::.+|@sha256:.+)", container["Image"])
    if not m:
        errors.append(f"{launch['task_definition']}: image {container['Image']} is not an ECR image URI")
    else:
        repo = f"arn:aws:ecr:{m.group(2)}:{m.group(1)}:repository/{m.group(3)}"
        exe.allowed.append(Request("ecr:GetAuthorizationToken", "*", (), "image pull"))
        for op in ["BatchCheckLayerAvailability", "GetDownloadUrlForLayer", "BatchGetImage"]:
            exe.allowed.append(Request(f"ecr:{op}", repo, (), "image pull"))
    log = container.get("LogConfiguration", {})
    if log.get("LogDriver") != "awslogs":
        errors.append(f"{launch['task_definition']}: container logs do not go to CloudWatch (awslogs)")
    else:
        group = log["Options"]["awslogs-group"]
        for op in ["CreateLogStream", "PutLogEvents"]:
            exe.allowed.append(Request(f"logs:{op}", f"arn:aws:logs:{r}:{a}:log-group:{group}:log-stream:prefix/eventlake/abc", (), "container logs"))
    if launch["kind"] == "schedule":
        sched = roles.setdefault(launch["scheduler_role"], Needs())
        sched.launches.append(f"{launch['resource']} (scheduler)")
        req = launch["request"]
        sched.allowed.append(Request("ecs:RunTask", req["TaskDefinition"], (("ecs:cluster", req["Cluster"]),), "scheduled RunTask"))
        for role_arn in (props["TaskRoleArn"], props["ExecutionRoleArn"]):
            sched.allowed.append(Request("iam:PassRole", role_arn, (("iam:PassedToService", "ecs-tasks.amazonaws.com"),), "RunTask passes the task's roles"))
        sched.refused.append(Request("iam:PassRole", props["TaskRoleArn"], (("iam:PassedToService", "lambda.amazonaws.com"),), "pass a task role to another service"))
        sched.refused.append(Request("ecs:RunTask", req["TaskDefinition"], (("ecs:cluster", f"arn:aws:ecs:{r}:{a}:cluster/other"),), "run on another cluster"))
        target = stack.resolved(launch["resource"])["Properties"]["Target"]
        dlq = target.get("DeadLetterConfig", {}).get("Arn")
        if not dlq:
            errors.append(f"{launch['resource']}: no dead-letter queue")
        else:
            sched.allowed.append(Request("sqs:SendMessage", dlq, (), "schedule dead-letter queue"))
    return errors

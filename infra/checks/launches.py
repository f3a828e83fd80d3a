"""How the template runs eventlake's code: every launch (the Lambda function, each ECS
service, each schedule) with the command it runs, its environment and the roles involved,
read from a resolved stage (cfn_model.Stack).

Invariant: a launch names its roles by logical id, found by ARN among the stage's roles; an
ARN that names no role or task definition of the stage raises instead of being guessed.
"""

from __future__ import annotations

import json

from .cfn_model import Stack


def task_definition_by_arn(stack: Stack, arn: str) -> str:
    """The logical id of the task definition a (resolved) ARN names."""
    for name, r in stack.resources().items():
        if r["Type"] == "AWS::ECS::TaskDefinition" and stack.ref(name) == arn:
            return name
    raise KeyError(f"no task definition with ARN {arn}")


def role_by_arn(stack: Stack, arn: str) -> str:
    """The logical id of the role a (resolved) ARN names."""
    for name, r in stack.resources().items():
        if r["Type"] == "AWS::IAM::Role" and stack.get_att(name, "Arn") == arn:
            return name
    raise KeyError(f"no role with ARN {arn}")


def flag_value(command: list[str], flag: str) -> str | None:
    """The value of `flag` in a command line (`--flag value` or `--flag=value`), if given."""
    for i, token in enumerate(command):
        if token == flag and i + 1 < len(command):
            return command[i + 1]
        if token.startswith(flag + "="):
            return token.split("=", 1)[1]
    return None


def launches(stack: Stack) -> list[dict]:
    """Every way this stage runs eventlake code: one entry per command and the role it runs as.

    Each entry: `kind` (lambda, service, schedule), `resource` (logical id), `command` (argv
    after `eventlake`, or ["<bootstrap>"]), `env` (name -> value), `role` (logical id of the
    role the code runs as), `execution_role` (ECS only) and, for schedules, `scheduler_role`.
    """
    out: list[dict] = []
    resources = stack.resources()

    def task(logical: str) -> tuple[dict, dict]:
        props = stack.resolved(logical)["Properties"]
        (container,) = props["ContainerDefinitions"]
        return props, container

    for name, r in resources.items():
        if r["Type"] in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            props = stack.resolved(name)["Properties"]
            out.append(
                {
                    "kind": "lambda",
                    "resource": name,
                    "command": ["<bootstrap>"],
                    "handler": props.get("Handler"),
                    "env": props.get("Environment", {}).get("Variables", {}),
                    "role": role_by_arn(stack, props["Role"]),
                }
            )
        elif r["Type"] == "AWS::ECS::Service":
            props = stack.resolved(name)["Properties"]
            td = task_definition_by_arn(stack, props["TaskDefinition"])
            tprops, container = task(td)
            out.append(
                {
                    "kind": "service",
                    "resource": name,
                    "task_definition": td,
                    "container": container["Name"],
                    "command": container["Command"],
                    "env": {e["Name"]: e["Value"] for e in container.get("Environment", [])},
                    "role": role_by_arn(stack, tprops["TaskRoleArn"]),
                    "execution_role": role_by_arn(stack, tprops["ExecutionRoleArn"]),
                }
            )
        elif r["Type"] == "AWS::Scheduler::Schedule":
            props = stack.resolved(name)["Properties"]
            request = json.loads(props["Target"]["Input"])
            td = task_definition_by_arn(stack, request["TaskDefinition"])
            tprops, container = task(td)
            overrides = {
                o["Name"]: o for o in request.get("Overrides", {}).get("ContainerOverrides", [])
            }
            command = overrides.get(container["Name"], {}).get("Command", container["Command"])
            out.append(
                {
                    "kind": "schedule",
                    "resource": name,
                    "task_definition": td,
                    "container": container["Name"],
                    "command": command,
                    "env": {e["Name"]: e["Value"] for e in container.get("Environment", [])},
                    "role": role_by_arn(stack, tprops["TaskRoleArn"]),
                    "execution_role": role_by_arn(stack, tprops["ExecutionRoleArn"]),
                    "scheduler_role": role_by_arn(stack, props["Target"]["RoleArn"]),
                    "request": request,
                    "expression": props["ScheduleExpression"],
                }
            )
    return out

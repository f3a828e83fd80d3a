"""The CloudFormation template as data, shared by infra/check.py and infra/permissions.py.

Loads infra/template.yaml with cfn-lint's decoder (so `!Sub`, `!GetAtt` and friends load as
their long forms), evaluates its Conditions for a set of parameter values, and resolves
intrinsic functions to concrete strings the way CloudFormation would for one stage, with
made-up but well-formed physical names and ARNs. Both checks reason about the resolved
template: the same stage resolved twice with different names tells which ARNs are scoped to
the stage, and concrete ARNs let an IAM policy be evaluated against concrete requests.

Invariant: resolution never guesses silently. A `Ref`/`Fn::GetAtt` of something this module
does not know the shape of raises, so a new resource type is added here on purpose.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INFRA = Path(__file__).resolve().parents[1]
ROOT = INFRA.parent
TEMPLATE = INFRA / "template.yaml"

ACCOUNT = "123456789012"
REGION = "eu-west-1"
PARTITION = "aws"

# The two ways the template deploys ingest, and the parameters that select each; every check
# runs once per mode.
MODES = {
    "lambda": {"IngestMode": "lambda"},
    "consumer": {"IngestMode": "consumer", "StreamMode": "PROVISIONED", "ShardCount": "3", "TokenAudience": "client-id"},
}


class NoValue:
    """`AWS::NoValue`: removed from the list or mapping that holds it."""


NO_VALUE = NoValue()


def load(path: Path = TEMPLATE) -> dict:
    """The template as plain JSON-like data (long-form intrinsics)."""
    from cfnlint.decode import decode_str

    template, matches = decode_str(path.read_text())
    if matches:
        raise SystemExit(f"{path}: {[str(m) for m in matches]}")
    # decode_str returns str/dict subclasses that carry line marks; plain data is simpler.
    return json.loads(json.dumps(template))


def sample_parameters(stage: str = "dev", **overrides: str) -> dict[str, str]:
    """Values for every required parameter, as a deployment would give them."""
    values = {
        "Stage": stage,
        "ImageUri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/eventlake:1.0.0",
        "AlarmEmail": "ops@example.com",
        "JwksUrl": f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_pool/.well-known/jwks.json",
        "TokenIssuer": f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_pool",
        "CertificateArn": f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/00000000-0000-0000-0000-000000000000",
        "VpcId": "vpc-0123456789abcdef0",
        "PrivateSubnetIds": "subnet-0aaaaaaaaaaaaaaa1,subnet-0aaaaaaaaaaaaaaa2",
        "PublicSubnetIds": "subnet-0bbbbbbbbbbbbbbb1,subnet-0bbbbbbbbbbbbbbb2",
    }
    values.update(overrides)
    return values


def parameter_values(template: dict, given: dict[str, str]) -> dict[str, Any]:
    """Given values over the defaults; list parameters become lists; all must be set."""
    values: dict[str, Any] = {}
    for name, spec in template.get("Parameters", {}).items():
        if name in given:
            value: Any = given[name]
        elif "Default" in spec:
            value = str(spec["Default"])
        else:
            raise KeyError(f"parameter {name} has no value and no default")
        if spec["Type"].startswith("List<") or spec["Type"] == "CommaDelimitedList":
            value = [v for v in str(value).split(",") if v]
        values[name] = value
    return values


# Physical names: what Ref returns and what the ARN is built from, per resource type.
NAME_PROPERTY = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::Kinesis::Stream": "Name",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::ECS::Cluster": "ClusterName",
    "AWS::ECS::Service": "ServiceName",
    "AWS::ECS::TaskDefinition": "Family",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Serverless::Function": "FunctionName",
    "AWS::Athena::WorkGroup": "Name",
    "AWS::Scheduler::ScheduleGroup": "Name",
    "AWS::Scheduler::Schedule": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::SNS::Topic": "TopicName",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "Name",
    "AWS::ElasticLoadBalancingV2::TargetGroup": "Name",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::Logs::ResourcePolicy": "PolicyName",
}


@dataclass
class Stack:
    """One stage of the template: parameter values, conditions, and a resolver."""

    template: dict
    params: dict[str, Any]
    stack_name: str
    account: str = ACCOUNT
    region: str = REGION
    conditions: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def of(cls, template: dict, given: dict[str, str]) -> "Stack":
        params = parameter_values(template, given)
        stack = cls(template, params, f"eventlake-{params['Stage']}")
        for name in template.get("Conditions", {}):
            stack.conditions[name] = stack.condition(name)
        return stack

    # ------------------------------------------------------------------ conditions
    def condition(self, name: str) -> bool:
        if name in self.conditions:
            return self.conditions[name]
        return bool(self._cond(self.template["Conditions"][name]))

    def _cond(self, expr: Any) -> Any:
        if isinstance(expr, dict) and len(expr) == 1:
            (fn, arg), = expr.items()
            if fn == "Fn::Equals":
                a, b = (self.resolve(x) for x in arg)
                return str(a) == str(b)
            if fn == "Fn::Not":
                return not self._cond(arg[0])
            if fn == "Fn::And":
                return all(self._cond(x) for x in arg)
            if fn == "Fn::Or":
                return any(self._cond(x) for x in arg)
            if fn == "Condition":
                return self.condition(arg)
        return self.resolve(expr)

    def resources(self) -> dict[str, dict]:
        """The resources this stage creates (those whose Condition holds)."""
        return {
            name: r
            for name, r in self.template["Resources"].items()
            if "Condition" not in r or self.condition(r["Condition"])
        }

    # ------------------------------------------------------------------ names
    def physical_name(self, logical: str) -> str:
        resource = self.template["Resources"][logical]
        if resource["Type"] == "AWS::Glue::Database":
            return str(self.resolve(resource["Properties"]["DatabaseInput"]["Name"]))
        prop = NAME_PROPERTY.get(resource["Type"])
        if prop and prop in resource.get("Properties", {}):
            return str(self.resolve(resource["Properties"][prop]))
        # CloudFormation's generated names: stack-Logical-SUFFIX.
        return f"{self.stack_name}-{logical}-GENERATED"

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.params:
            return self.params[name]
        if name not in self.template["Resources"]:
            raise KeyError(f"Ref to unknown {name}")
        kind = self.template["Resources"][name]["Type"]
        phys = self.physical_name(name)
        a, r = self.account, self.region
        return {
            "AWS::SQS::Queue": lambda: f"https://sqs.{r}.amazonaws.com/{a}/{phys}",
            "AWS::ECS::TaskDefinition": lambda: f"arn:aws:ecs:{r}:{a}:task-definition/{phys}:1",
            "AWS::ECS::Service": lambda: f"arn:aws:ecs:{r}:{a}:service/{self.physical_name('Cluster')}/{phys}",
            "AWS::SNS::Topic": lambda: f"arn:aws:sns:{r}:{a}:{phys}",
            "AWS::ElasticLoadBalancingV2::LoadBalancer": lambda: f"arn:aws:elasticloadbalancing:{r}:{a}:loadbalancer/app/{phys}/50dc6c495c0c9188",
            "AWS::ElasticLoadBalancingV2::TargetGroup": lambda: f"arn:aws:elasticloadbalancing:{r}:{a}:targetgroup/{phys}/6d0ecf831eec9f09",
            "AWS::ElasticLoadBalancingV2::Listener": lambda: f"arn:aws:elasticloadbalancing:{r}:{a}:listener/app/{phys}",
            "AWS::EC2::SecurityGroup": lambda: f"sg-{zlib.crc32(f'{self.stack_name}/{name}'.encode()):017x}",
            "AWS::ApplicationAutoScaling::ScalableTarget": lambda: f"service/{self.physical_name('Cluster')}/serve|ecs:service:DesiredCount|ecs",
        }.get(kind, lambda: phys)()

    def get_att(self, logical: str, attribute: str) -> str:
        resource = self.template["Resources"][logical]
        kind = resource["Type"]
        phys = self.physical_name(logical)
        a, r = self.account, self.region
        table = {
            ("AWS::S3::Bucket", "Arn"): f"arn:aws:s3:::{phys}",
            ("AWS::Kinesis::Stream", "Arn"): f"arn:aws:kinesis:{r}:{a}:stream/{phys}",
            ("AWS::SQS::Queue", "Arn"): f"arn:aws:sqs:{r}:{a}:{phys}",
            ("AWS::SQS::Queue", "QueueName"): phys,
            ("AWS::Logs::LogGroup", "Arn"): f"arn:aws:logs:{r}:{a}:log-group:{phys}:*",
            ("AWS::DynamoDB::Table", "Arn"): f"arn:aws:dynamodb:{r}:{a}:table/{phys}",
            ("AWS::IAM::Role", "Arn"): f"arn:aws:iam::{a}:role/{phys}",
            ("AWS::ECS::Cluster", "Arn"): f"arn:aws:ecs:{r}:{a}:cluster/{phys}",
            ("AWS::ECS::Service", "Name"): phys,
            ("AWS::Events::Rule", "Arn"): f"arn:aws:events:{r}:{a}:rule/{phys}",
            ("AWS::Lambda::Function", "Arn"): f"arn:aws:lambda:{r}:{a}:function:{phys}",
            ("AWS::Serverless::Function", "Arn"): f"arn:aws:lambda:{r}:{a}:function:{phys}",
            ("AWS::ElasticLoadBalancingV2::LoadBalancer", "LoadBalancerFullName"): f"app/{phys}/50dc6c495c0c9188",
            ("AWS::ElasticLoadBalancingV2::LoadBalancer", "DNSName"): f"{phys}-1234567890.{r}.elb.amazonaws.com",
            ("AWS::ElasticLoadBalancingV2::TargetGroup", "TargetGroupFullName"): f"targetgroup/{phys}/6d0ecf831eec9f09",
        }
        if (kind, attribute) not in table:
            raise KeyError(f"GetAtt {logical}.{attribute} ({kind}) is not modelled in cfn_model.py")
        return table[(kind, attribute)]

    # ------------------------------------------------------------------ intrinsics
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            out = [self.resolve(v) for v in value]
            return [v for v in out if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(logical, attribute)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                sep, items = arg
                return sep.join(str(x) for x in self.resolve(items))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                sep, text = arg
                return str(self.resolve(text)).split(sep)
            if key == "Fn::If":
                cond, yes, no = arg
                return self.resolve(yes if self.condition(cond) else no)
            if key == "Condition":
                return self.condition(arg)
            if key.startswith("Fn::"):
                raise KeyError(f"{key} is not modelled in cfn_model.py")
        out = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not NO_VALUE}

    def _sub(self, arg: Any) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        values = {k: self.resolve(v) for k, v in extra.items()}

        def one(m: re.Match) -> str:
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in values:
                return str(values[name])
            if "." in name:
                logical, attribute = name.split(".", 1)
                return str(self.get_att(logical, attribute))
            v = self.ref(name)
            return ",".join(v) if isinstance(v, list) else str(v)

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def resolved(self, logical: str) -> dict:
        """A resource with every intrinsic resolved (a new value: `resolve` copies as it goes)."""
        return self.resolve(self.template["Resources"][logical])

    def props(self, logical: str) -> dict:
        """A resource's properties, resolved."""
        return self.resolved(logical)["Properties"]

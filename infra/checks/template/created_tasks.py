"""What moto created for the tasks and the API, read back through the service APIs: the
cluster, task definitions and services, the load balancer, its listeners and target group, the
security groups, and the rules that log scheduled tasks' exits.

Invariant: as in created.py, moto's value where moto keeps the property, the template's only
where it drops it.
"""

from __future__ import annotations

import json

from ..cfn_model import Stack
from ..launches import role_by_arn
from .report import Report


def check(report: Report, stack: Stack, physical: dict, groups: dict[str, int | None]) -> None:
    """`groups`: the log groups moto created, name -> retention."""
    import boto3

    res = stack.resources()
    p = stack.props
    bucket = physical["LakeBucket"]
    # ECS
    ecs = boto3.client("ecs")
    cluster = ecs.describe_clusters(clusters=[physical["Cluster"]], include=["SETTINGS"])["clusters"][0]
    report.moto_or_template(
        "Container Insights",
        {s["name"]: s["value"] for s in cluster.get("settings", [])}.get("containerInsights"),
        {s["Name"]: s["Value"] for s in p("Cluster")["ClusterSettings"]}.get("containerInsights"),
        "enabled",
    )
    for td_name in [n for n, r in res.items() if r["Type"] == "AWS::ECS::TaskDefinition"]:
        td = ecs.describe_task_definition(taskDefinition=physical[td_name])["taskDefinition"]
        tp = p(td_name)
        (c,) = td["containerDefinitions"]
        (tc,) = tp["ContainerDefinitions"]
        report.ok(f"{td_name}: image is the ImageUri parameter", c["image"] == stack.params["ImageUri"], c["image"])
        # Each task runs as its own role, <Name>TaskRole; permissions.py checks what that role may do.
        arn = lambda role: f"arn:aws:iam::{stack.account}:role/{physical[role]}"  # noqa: E731
        own = arn(td_name.removesuffix("TaskDefinition") + "TaskRole")
        report.moto_or_template(f"{td_name}: task role", td.get("taskRoleArn"), arn(role_by_arn(stack, tp["TaskRoleArn"])), own)
        report.ok(f"{td_name}: read-only root file system", c.get("readonlyRootFilesystem") is True)
        report.ok(f"{td_name}: command", c["command"] == tc["Command"], c["command"])
        report.ok(f"{td_name}: logs to CloudWatch", c["logConfiguration"]["logDriver"] == "awslogs" and c["logConfiguration"]["options"]["awslogs-group"] in groups)
        report.ok(f"{td_name}: EVENTLAKE_LAKE", {e["name"]: e.get("value") for e in c["environment"]}.get("EVENTLAKE_LAKE") == f"s3://{bucket}/lake")
        report.moto_or_template(f"{td_name}: Fargate", td.get("requiresCompatibilities"), tp["RequiresCompatibilities"], ["FARGATE"])
        report.moto_or_template(f"{td_name}: awsvpc networking", td.get("networkMode"), tp["NetworkMode"], "awsvpc")
    services = [n for n, r in res.items() if r["Type"] == "AWS::ECS::Service"]
    want_services = {"ServeService"} | ({"ConsumerService"} if stack.params["IngestMode"] == "consumer" else set())
    report.ok("ECS services", set(services) == want_services, services)
    for svc_name in services:
        (svc,) = ecs.describe_services(cluster=physical["Cluster"], services=[physical[svc_name]])["services"]
        sp = p(svc_name)
        report.ok(f"{svc_name}: desired count", svc["desiredCount"] == int(sp["DesiredCount"]), svc["desiredCount"])
        report.moto_or_template(f"{svc_name}: Fargate", svc.get("launchType"), sp["LaunchType"], "FARGATE")
        report.moto_or_template(
            f"{svc_name}: deployment circuit breaker with rollback",
            svc.get("deploymentConfiguration", {}).get("deploymentCircuitBreaker"),
            {k[0].lower() + k[1:]: v for k, v in sp["DeploymentConfiguration"]["DeploymentCircuitBreaker"].items()},
            {"enable": True, "rollback": True},
        )
    (svc,) = ecs.describe_services(cluster=physical["Cluster"], services=[physical["ServeService"]])["services"]
    tg_arn = physical["ServeTargetGroup"]
    (serve,) = ecs.describe_task_definition(taskDefinition=physical["ServeTaskDefinition"])["taskDefinition"]["containerDefinitions"]
    ports = [m["containerPort"] for m in serve.get("portMappings", [])]
    listen = {e["name"]: e.get("value") for e in serve["environment"]}.get("EVENTLAKE_SERVE_LISTEN")
    report.ok("serve listens on every interface at its container port", ports == [8081] and listen == "0.0.0.0:8081", (listen, ports))
    report.moto_or_template(
        "serve behind the target group on 8081",
        [(lb.get("targetGroupArn"), lb.get("containerPort")) for lb in svc.get("loadBalancers", [])],
        [(stack.ref("ServeTargetGroup"), lb["ContainerPort"]) for lb in p("ServeService")["LoadBalancers"]],
        [(stack.ref("ServeTargetGroup"), 8081)],
    )

    # Load balancer
    elb = boto3.client("elbv2")
    (lb,) = elb.describe_load_balancers(LoadBalancerArns=[physical["LoadBalancer"]])["LoadBalancers"]
    report.ok("load balancer is internet-facing", lb["Scheme"] == "internet-facing")
    attrs = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]}
    tattrs = {a["Key"]: a["Value"] for a in p("LoadBalancer")["LoadBalancerAttributes"]}
    idle = attrs.get("idle_timeout.timeout_seconds")
    report.moto_or_template("idle timeout long enough for /v1/ws (>= 10 x the 20 s ping)", idle is not None and int(idle) >= 200, int(tattrs["idle_timeout.timeout_seconds"]) >= 200, True)
    listeners = {l["Port"]: l for l in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]}
    https = listeners.get(443, {})
    report.ok("HTTPS listener with the certificate", https.get("Protocol") == "HTTPS" and https.get("Certificates", [{}])[0].get("CertificateArn") == stack.params["CertificateArn"], https)
    report.ok("HTTPS listener TLS policy", str(https.get("SslPolicy", "")).startswith("ELBSecurityPolicy-TLS13"), https.get("SslPolicy"))
    report.ok("HTTPS forwards to serve", https.get("DefaultActions", [{}])[0].get("TargetGroupArn") == tg_arn)
    rules = elb.describe_rules(ListenerArn=https.get("ListenerArn", ""))["Rules"] if https else []
    hidden = [
        r for r in rules
        if any(c.get("Field") == "path-pattern" and "/metrics" in c.get("PathPatternConfig", {}).get("Values", c.get("Values", [])) for c in r.get("Conditions", []))
        and any(a.get("Type") == "fixed-response" and a.get("FixedResponseConfig", {}).get("StatusCode") == "404" for a in r.get("Actions", []))
    ]
    report.ok("HTTPS answers /metrics with 404 (Prometheus text stays inside the VPC)", len(hidden) == 1, rules)
    http = listeners.get(80, {})
    report.ok("HTTP redirects to HTTPS", http.get("DefaultActions", [{}])[0].get("RedirectConfig", {}).get("Protocol") == "HTTPS", http)
    (tg,) = elb.describe_target_groups(TargetGroupArns=[tg_arn])["TargetGroups"]
    report.ok("health check on /v1/ready", (tg["HealthCheckPath"], tg["Port"], tg["TargetType"]) == ("/v1/ready", 8081, "ip"), tg)

    # Security groups: serve reachable from the load balancer only
    ec2 = boto3.client("ec2")
    sg = ec2.describe_security_groups(GroupIds=[physical["ServeSecurityGroup"]])["SecurityGroups"][0]
    sources = [(perm["FromPort"], [g["GroupId"] for g in perm["UserIdGroupPairs"]], perm["IpRanges"]) for perm in sg["IpPermissions"]]
    report.ok("serve tasks accept 8081 from the load balancer's group only", sources == [(8081, [physical["LoadBalancerSecurityGroup"]], [])], sources)
    for group in [n for n, r in res.items() if r["Type"] == "AWS::EC2::SecurityGroup"]:
        got = ec2.describe_security_groups(GroupIds=[physical[group]])["SecurityGroups"][0]["IpPermissionsEgress"]
        moto_open = any(e["IpProtocol"] == "-1" for e in got)
        declared = p(group).get("SecurityGroupEgress")
        template_open = declared is None or any(str(e["IpProtocol"]) == "-1" for e in declared)
        report.moto_or_template(f"{group}: egress restricted (no allow-all rule)", moto_open, template_open, False)

    # Exit status of scheduled tasks
    events = boto3.client("events")
    logs = boto3.client("logs")
    for rule in ["TaskStoppedRule", "TaskFailedRule"]:
        r = events.describe_rule(Name=physical[rule])
        pattern = json.loads(r["EventPattern"])
        report.ok(f"{rule} matches this cluster's scheduled tasks", pattern["detail"]["clusterArn"] == [stack.get_att("Cluster", "Arn")] and pattern["detail"]["group"] == [{"prefix": "schedule:"}], pattern)
        targets = events.list_targets_by_rule(Rule=physical[rule])["Targets"]
        report.ok(f"{rule} writes to the task-exit log group", [t["Arn"].split(":log-group:")[-1] for t in targets] == [p("TaskExitLogGroup")["LogGroupName"]], targets)
    failed = json.loads(events.describe_rule(Name=physical["TaskFailedRule"])["EventPattern"])["detail"]["$or"]
    report.ok("TaskFailedRule: non-zero exit or failed start", {"containers": {"exitCode": [{"anything-but": 0}]}} in failed and {"stopCode": ["TaskFailedToStart"]} in failed, failed)
    policies = {x["policyName"]: json.loads(x["policyDocument"]) for x in logs.describe_resource_policies()["resourcePolicies"]}
    report.ok("EventBridge may write the task-exit log group", physical["TaskExitLogPolicy"] in policies)

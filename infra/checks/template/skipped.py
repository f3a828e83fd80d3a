"""The resources moto does not create, asserted on the parsed template: the Glue database,
the Athena workgroup, the bucket policy, the schedules, the alarms, the e-mail subscription,
serve's auto scaling and the load balancer's egress rule.

Invariant: these assertions run whether or not moto skipped the type (they hold on the
template either way), and every type moto skipped is one of ASSERTED, so a type moto starts
skipping is not left unchecked.
"""

from __future__ import annotations

import json

from ..cfn_model import Stack
from ..launches import task_definition_by_arn
from .report import Report

# Resource types whose properties are asserted here; Scheduler::ScheduleGroup is checked
# through the schedules' GroupName.
ASSERTED = {
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
    "AWS::Athena::WorkGroup",
    "AWS::CloudWatch::Alarm",
    "AWS::EC2::SecurityGroupEgress",
    "AWS::Glue::Database",
    "AWS::S3::BucketPolicy",
    "AWS::SNS::Subscription",
    "AWS::Scheduler::Schedule",
    "AWS::Scheduler::ScheduleGroup",
}


def check(report: Report, stack: Stack, skipped: set[str]) -> None:
    """`skipped`: the resource types moto did not create for this stack."""
    res = stack.resources()
    p = stack.props
    of_type = lambda t: [n for n, r in res.items() if r["Type"] == t]  # noqa: E731
    bucket = p("LakeBucket")["BucketName"]
    lake_uri = f"s3://{bucket}/lake"

    # Glue database
    (db,) = of_type("AWS::Glue::Database")
    d = p(db)
    report.ok("Glue database named for the stage", d["DatabaseInput"]["Name"] == f"eventlake_{stack.params['Stage']}", d)
    report.ok("Glue database location is the lake", d["DatabaseInput"]["LocationUri"] == lake_uri + "/")
    report.ok("Glue database in this account's catalog", d["CatalogId"] == stack.account)

    # Athena workgroup
    (wg,) = of_type("AWS::Athena::WorkGroup")
    c = p(wg)["WorkGroupConfiguration"]
    report.ok("Athena engine v3", c["EngineVersion"]["SelectedEngineVersion"] == "Athena engine version 3", c["EngineVersion"])
    report.ok("workgroup enforces its configuration", c["EnforceWorkGroupConfiguration"] is True)
    report.ok("bytes-scanned limit per query", int(c["BytesScannedCutoffPerQuery"]) == int(stack.params["AthenaBytesScannedCutoff"]))
    out = c["ResultConfiguration"]["OutputLocation"]
    # created.py checks that the lifecycle rule expires this prefix.
    report.ok("results in the lake bucket under the prefix the lifecycle rule expires", out == f"s3://{bucket}/athena-results/", out)
    report.ok("workgroup publishes CloudWatch metrics", c["PublishCloudWatchMetricsEnabled"] is True)

    # Bucket policy
    (bp,) = of_type("AWS::S3::BucketPolicy")
    sts = p(bp)["PolicyDocument"]["Statement"]
    tls = [s for s in sts if s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"]
    report.ok("bucket policy refuses every request without TLS, on the bucket and its objects", bool(tls) and set(tls[0]["Resource"]) == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"} and tls[0]["Principal"] == "*", sts)

    # Schedules
    cluster = stack.get_att("Cluster", "Arn")
    dlq = stack.get_att("ScheduleDeadLetterQueue", "Arn")
    for name in of_type("AWS::Scheduler::Schedule"):
        sp = p(name)
        target = sp["Target"]
        try:
            request = json.loads(target["Input"])
        except json.JSONDecodeError as e:
            report.ok(f"{name}: Input is JSON", False, e)
            continue
        td = task_definition_by_arn(stack, request["TaskDefinition"])
        container = p(td)["ContainerDefinitions"][0]["Name"]
        report.ok(f"{name}: universal ecs:runTask target", target["Arn"] == "arn:aws:scheduler:::aws-sdk:ecs:runTask")
        report.ok(f"{name}: on this cluster, Fargate, in the task subnets", request["Cluster"] == cluster and request["LaunchType"] == "FARGATE"
                  and request["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"] == stack.params["PrivateSubnetIds"], request)
        report.ok(f"{name}: RunTask fields in PascalCase", all(k[0].isupper() for k in request), list(request))
        report.ok(f"{name}: override names the task's container", [o["Name"] for o in request["Overrides"]["ContainerOverrides"]] == [container])
        report.ok(f"{name}: group seen by the task-exit rules", request["Group"].startswith("schedule:"), request["Group"])
        report.ok(f"{name}: enabled, UTC, dead-letter queue, bounded retries", sp["State"] == "ENABLED" and sp["ScheduleExpressionTimezone"] == "UTC"
                  and target["DeadLetterConfig"]["Arn"] == dlq and target["RetryPolicy"]["MaximumRetryAttempts"] <= 5)
        report.ok(f"{name}: in the stage's schedule group", sp["GroupName"] == p("ScheduleGroup")["Name"])

    # Alarms
    alarms = {n: p(n) for n in of_type("AWS::CloudWatch::Alarm")}
    topic = stack.ref("AlarmTopic")
    for n, a in alarms.items():
        report.ok(f"{n}: notifies the alarm topic", a["AlarmActions"] == [topic] and a.get("OKActions") == [topic])

    def metric(a):
        if "MetricName" in a:
            return {(a["Namespace"], a["MetricName"])}, {d["Name"]: d["Value"] for d in a.get("Dimensions", [])}
        names, dims = set(), {}
        for m in a["Metrics"]:
            if "MetricStat" in m:
                mm = m["MetricStat"]["Metric"]
                names.add((mm["Namespace"], mm["MetricName"]))
                dims.update({d["Name"]: d["Value"] for d in mm.get("Dimensions", [])})
        return names, dims

    def has(label, namespace, name, dims, condition=True):
        if not condition:
            return
        found = [n for n, a in alarms.items() if (namespace, name) in metric(a)[0] and all(metric(a)[1].get(k) == v for k, v in dims.items())]
        report.ok(f"alarm on {label}", bool(found), f"no alarm on {namespace} {name} {dims}")

    lam = stack.params["IngestMode"] == "lambda"
    fn = stack.ref("IngestFunction") if lam else None
    lbname = stack.get_att("LoadBalancer", "LoadBalancerFullName")
    has("Lambda iterator age", "AWS/Lambda", "IteratorAge", {"FunctionName": fn}, lam)
    has("Lambda not invoked while records arrive", "AWS/Lambda", "Invocations", {"FunctionName": fn}, lam)
    has("Lambda errors", "AWS/Lambda", "Errors", {"FunctionName": fn}, lam)
    has("Lambda throttles", "AWS/Lambda", "Throttles", {"FunctionName": fn}, lam)
    has("messages in the on-failure queue", "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": stack.get_att("IngestFailureQueue", "QueueName") if lam else None}, lam)
    has("the consumer's iterator age", "AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", {"StreamName": stack.ref("EventStream")}, not lam)
    has("failed scheduled task runs", "AWS/Events", "TriggeredRules", {"RuleName": stack.physical_name("TaskFailedRule")})
    has("tasks the scheduler could not start", "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": stack.get_att("ScheduleDeadLetterQueue", "QueueName")})
    has("the API's 5xx", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", {"LoadBalancer": lbname})
    has("the API's p99 latency", "AWS/ApplicationELB", "TargetResponseTime", {"LoadBalancer": lbname, "TargetGroup": stack.get_att("ServeTargetGroup", "TargetGroupFullName")})
    rate = [a for a in alarms.values() if "Metrics" in a and any("5XX" in m.get("MetricStat", {}).get("Metric", {}).get("MetricName", "") for m in a["Metrics"])]
    report.ok("5xx alarm is a rate (target and load balancer 5xx over requests)", bool(rate) and "/ requests" in rate[0]["Metrics"][-1]["Expression"])
    p99 = [a for a in alarms.values() if a.get("MetricName") == "TargetResponseTime"]
    report.ok("latency alarm uses p99", bool(p99) and p99[0].get("ExtendedStatistic") == "p99")

    # Alarm e-mail, auto scaling, the load balancer's egress
    (sub,) = of_type("AWS::SNS::Subscription")
    report.ok("alarm e-mail subscribed", p(sub)["Protocol"] == "email" and p(sub)["Endpoint"] == stack.params["AlarmEmail"])
    (target,) = of_type("AWS::ApplicationAutoScaling::ScalableTarget")
    t = p(target)
    report.ok("serve scales between ServeMinCount and ServeMaxCount", (int(t["MinCapacity"]), int(t["MaxCapacity"])) == (int(stack.params["ServeMinCount"]), int(stack.params["ServeMaxCount"])))
    report.ok("scalable target is the serve service", t["ResourceId"] == f"service/{stack.physical_name('Cluster')}/{stack.physical_name('ServeService')}", t["ResourceId"])
    (policy,) = of_type("AWS::ApplicationAutoScaling::ScalingPolicy")
    cfg = p(policy)["TargetTrackingScalingPolicyConfiguration"]
    report.ok("scaled on CPU", cfg["PredefinedMetricSpecification"]["PredefinedMetricType"] == "ECSServiceAverageCPUUtilization")
    (egress,) = of_type("AWS::EC2::SecurityGroupEgress")
    e = p(egress)
    report.ok("load balancer may reach serve on 8081", (e["GroupId"], e["DestinationSecurityGroupId"], e["FromPort"]) == (stack.ref("LoadBalancerSecurityGroup"), stack.ref("ServeSecurityGroup"), 8081))

    report.ok("every type moto skipped is asserted on the template", skipped <= ASSERTED, sorted(skipped - ASSERTED))

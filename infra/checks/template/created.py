"""What moto created for the lake, the stream, ingest and the queues, read back through the
service APIs: bucket settings, stream mode and retention, log group retention, the Lambda
function and its event-source mapping (every property) or the consumer's lease table.

Invariant: each assertion reads moto's value where moto keeps the property, and the template's
(counted as such by Report.moto_or_template) only where moto drops it.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from ..cfn_model import Stack
from .report import Report


def check(report: Report, stack: Stack, physical: dict) -> dict[str, int | None]:
    """The log groups moto created (name -> retention), for created_tasks.py."""
    import boto3

    res = stack.resources()
    p = stack.props
    bucket = physical["LakeBucket"]
    s3 = boto3.client("s3")

    def call(fn, **kw):
        try:
            return fn(**kw)
        except ClientError as e:  # moto answers "not found" for configuration it dropped
            return {"error": e.response["Error"]["Code"]}

    # Lake bucket
    lake = p("LakeBucket")
    report.ok("lake bucket name", bucket == lake["BucketName"], bucket)
    report.moto_or_template("bucket versioning", call(s3.get_bucket_versioning, Bucket=bucket).get("Status"), lake["VersioningConfiguration"]["Status"], "Enabled")
    enc = call(s3.get_bucket_encryption, Bucket=bucket).get("ServerSideEncryptionConfiguration", {}).get("Rules", [{}])[0]
    report.ok("bucket default encryption", enc.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") in ("AES256", "aws:kms"), enc)
    pab = call(s3.get_public_access_block, Bucket=bucket).get("PublicAccessBlockConfiguration")
    all_blocked = {"BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    report.moto_or_template("bucket public access blocked", pab, lake["PublicAccessBlockConfiguration"], all_blocked)
    rules = call(s3.get_bucket_lifecycle_configuration, Bucket=bucket).get("Rules")
    tmpl_rules = lake["LifecycleConfiguration"]["Rules"]
    results_prefix = "athena-results/"
    has_rules = lambda rs: bool(rs) and any(  # noqa: E731
        r.get("Prefix", r.get("Filter", {}).get("Prefix")) == results_prefix and ("Expiration" in r or "ExpirationInDays" in r) for r in rs
    ) and any("AbortIncompleteMultipartUpload" in r for r in rs)
    report.moto_or_template("lifecycle: Athena results expire, incomplete multipart uploads aborted", has_rules(rules), has_rules(tmpl_rules), True)

    # Stream
    kinesis = boto3.client("kinesis").describe_stream_summary(StreamName=physical["EventStream"])["StreamDescriptionSummary"]
    stream = p("EventStream")
    report.moto_or_template("stream mode", kinesis["StreamModeDetails"]["StreamMode"], stream["StreamModeDetails"]["StreamMode"], stack.params["StreamMode"])
    report.ok("stream retention", kinesis["RetentionPeriodHours"] == int(stack.params["StreamRetentionHours"]), kinesis["RetentionPeriodHours"])
    if stack.params["StreamMode"] == "PROVISIONED":
        report.ok("provisioned shards", kinesis["OpenShardCount"] == int(stack.params["ShardCount"]), kinesis["OpenShardCount"])
    report.moto_or_template("stream server-side encryption", kinesis.get("EncryptionType"), stream["StreamEncryption"]["EncryptionType"], "KMS")

    # Log groups: every one has the retention
    logs = boto3.client("logs")
    groups = {g["logGroupName"]: g.get("retentionInDays") for g in logs.describe_log_groups()["logGroups"]}
    for name, r in res.items():
        if r["Type"] == "AWS::Logs::LogGroup":
            group = p(name)["LogGroupName"]
            report.ok(f"log group {group} retention", groups.get(group) == int(stack.params["LogRetentionDays"]), groups.get(group))

    lam = boto3.client("lambda")
    if stack.params["IngestMode"] == "lambda":
        fn = lam.get_function(FunctionName=physical["IngestFunction"])["Configuration"]
        report.ok("Lambda runtime provided.al2023, handler bootstrap", (fn["Runtime"], fn["Handler"]) == ("provided.al2023", "bootstrap"), (fn["Runtime"], fn["Handler"]))
        report.ok("Lambda architecture", fn["Architectures"] == [stack.params["LambdaArchitecture"]], fn["Architectures"])
        report.ok("Lambda EVENTLAKE_LAKE", fn["Environment"]["Variables"].get("EVENTLAKE_LAKE") == f"s3://{bucket}/lake", fn["Environment"])
        report.ok("Lambda role", fn["Role"].endswith("/" + physical["IngestFunctionRole"]), fn["Role"])
        report.moto_or_template("Lambda log group", fn.get("LoggingConfig", {}).get("LogGroup"), p("IngestFunction")["LoggingConfig"]["LogGroup"], f"/aws/lambda/{fn['FunctionName']}")
        (esm,) = lam.list_event_source_mappings(FunctionName=physical["IngestFunction"])["EventSourceMappings"]
        queue_arn = boto3.client("sqs").get_queue_attributes(QueueUrl=physical["IngestFailureQueue"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        want = {
            "EventSourceArn": stack.get_att("EventStream", "Arn"),
            "StartingPosition": "TRIM_HORIZON",
            "ParallelizationFactor": 1,
            "BisectBatchOnFunctionError": True,
            "MaximumRetryAttempts": int(stack.params["LambdaMaximumRetryAttempts"]),
            "MaximumRecordAgeInSeconds": int(stack.params["LambdaMaximumRecordAgeSeconds"]),
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "DestinationConfig": {"OnFailure": {"Destination": queue_arn}},
        }
        for key, value in want.items():
            report.ok(f"event-source mapping {key}", esm.get(key) == value, esm.get(key))
        report.ok("bounded retries", 0 <= esm["MaximumRetryAttempts"] < 10000 and esm["MaximumRecordAgeInSeconds"] > 0)
    else:
        report.ok("no Lambda in consumer mode", lam.list_functions()["Functions"] == [])
        table = boto3.client("dynamodb").describe_table(TableName=physical["LeaseTable"])["Table"]
        report.ok("lease table key is the one `ingest kinesis` creates", table["KeySchema"] == [{"AttributeName": "lease_key", "KeyType": "HASH"}], table["KeySchema"])
        report.ok("lease table on demand", table.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST")

    # Queues
    sqs = boto3.client("sqs")
    for name in [n for n, r in res.items() if r["Type"] == "AWS::SQS::Queue"]:
        attrs = sqs.get_queue_attributes(QueueUrl=physical[name], AttributeNames=["All"])["Attributes"]
        report.ok(f"{name} keeps messages 14 days, encrypted", attrs.get("MessageRetentionPeriod") == "1209600" and attrs.get("SqsManagedSseEnabled") == "true", attrs)

    return groups

"""The S3 requests the lake's code makes through object_store and deltalake, on the layers a
component reads and writes, and the ones it must be refused.

What the code does (scan.LAKE_MARKERS: commit, put a file, list the root, optimize, vacuum,
checkpoint, clean up the log) becomes the requests deltalake makes for it on S3: list and read
a table's log and data, write data and a commit (a conditional put of the next log version),
checkpoints, deletes. Invariant: a component that changes the lake declares the layers it
writes and one that declares writes commits; and every layer it does not write, or writes
without vacuum or log cleanup, gets the deletes it must be refused.
"""

from __future__ import annotations

import re

from .components import LAYERS, Component
from .iam import Request

# The lake operations (scan.LAKE_MARKERS) that write or delete.
CHANGES = {"commit", "put_file", "optimize", "vacuum", "checkpoint", "log_cleanup"}


def s3_location(uri: str) -> tuple[str, str]:
    m = re.fullmatch(r"s3://([^/]+)/?(.*?)/?", uri)
    if not m:
        raise SystemExit(f"not an s3:// URI: {uri}")
    return m.group(1), m.group(2)


def lake_requests(bucket: str, prefix: str, comp: Component, does: dict[str, list[str]]) -> tuple[list[Request], list[str]]:
    """The requests the component's lake code needs, and where the code and the declared layers disagree."""
    obj = f"arn:aws:s3:::{bucket}/{prefix}"
    out: list[Request] = []
    errors: list[str] = []
    reads = comp.reads
    writes = comp.writes
    for layer in reads:
        t = f"{prefix}/{layer}/t"
        out += [
            Request("s3:ListBucket", f"arn:aws:s3:::{bucket}", (("s3:prefix", f"{t}/_delta_log/"),), f"read {layer}"),
            Request("s3:GetObject", f"{obj}/{layer}/t/_delta_log/00000000000000000000.json", (), f"read {layer}"),
            Request("s3:GetObject", f"{obj}/{layer}/t/event_date=2026-11-01/part-00000-x.zstd.parquet", (), f"read {layer}"),
        ]
    changes = {what: where for what, where in does.items() if what in CHANGES}
    if changes and not writes:
        errors.append(f"{comp.name}: the code changes the lake ({changes}) but components.py declares no layer it writes")
    if writes and not ("commit" in does or "optimize" in does):
        errors.append(f"{comp.name}: components.py declares it writes {writes}, but the code never commits")
    for layer in writes:
        log = f"{obj}/{layer}/t/_delta_log"
        why = f"commit to {layer}"
        out += [
            Request("s3:PutObject", f"{obj}/{layer}/t/event_date=2026-11-01/part-00001-y.zstd.parquet", (), why),
            Request("s3:AbortMultipartUpload", f"{obj}/{layer}/t/event_date=2026-11-01/part-00001-y.zstd.parquet", (), why),
            # deltalake 1.1 on S3 (deltalake-aws 1.0: core's DefaultLogStore): the commit is a
            # conditional put (If-None-Match) of the next version; no temporary file to delete.
            Request("s3:PutObject", f"{log}/00000000000000000001.json", (), why),
        ]
    if "put_file" in does:
        if "ops" not in writes:
            errors.append(f"{comp.name}: puts a file below the lake root ({does['put_file']}) but components.py does not declare it writes ops")
        out.append(Request("s3:PutObject", f"{obj}/ops/run_results.json", (), "run summary file"))
    if "list_root" in does:
        out.append(Request("s3:ListBucket", f"arn:aws:s3:::{bucket}", (("s3:prefix", f"{prefix}/"),), "list the lake's tables"))
    for layer in writes:
        if "vacuum" in does:
            out.append(Request("s3:DeleteObject", f"{obj}/{layer}/t/event_date=2026-11-01/part-00000-x.zstd.parquet", (), "vacuum"))
        if "checkpoint" in does:
            out.append(Request("s3:PutObject", f"{obj}/{layer}/t/_delta_log/00000000000000000010.checkpoint.parquet", (), "checkpoint"))
            out.append(Request("s3:PutObject", f"{obj}/{layer}/t/_delta_log/_last_checkpoint", (), "checkpoint"))
        if "log_cleanup" in does:
            out.append(Request("s3:DeleteObject", f"{obj}/{layer}/t/_delta_log/00000000000000000001.json", (), "expired log cleanup"))
    return out, errors


def forbidden_lake_requests(bucket: str, prefix: str, comp: Component, does: dict, other_bucket: str) -> list[Request]:
    """What this code must not be able to do to the lake."""
    obj = f"arn:aws:s3:::{bucket}/{prefix}"
    out = [Request("s3:GetObject", f"arn:aws:s3:::{other_bucket}/{prefix}/bronze/t/_delta_log/00000000000000000000.json", (), "another stage's lake")]
    for layer in LAYERS:
        data = f"{obj}/{layer}/t/event_date=2026-11-01/part-00000-x.zstd.parquet"
        if layer not in comp.reads:
            out.append(Request("s3:GetObject", data, (), f"read {layer}"))
        if layer not in comp.writes:
            out.append(Request("s3:PutObject", data, (), f"write {layer}"))
            out.append(Request("s3:DeleteObject", data, (), f"delete {layer} data"))
            out.append(Request("s3:DeleteObject", f"{obj}/{layer}/t/_delta_log/00000000000000000001.json", (), f"delete {layer} log"))
        else:
            if "vacuum" not in does:
                out.append(Request("s3:DeleteObject", data, (), f"delete {layer} data outside vacuum"))
            if "log_cleanup" not in does:
                out.append(Request("s3:DeleteObject", f"{obj}/{layer}/t/_delta_log/00000000000000000001.json", (), f"delete {layer} log"))
    if "list_root" not in does:
        out.append(Request("s3:ListBucket", f"arn:aws:s3:::{bucket}", (("s3:prefix", f"{prefix}/"),), "list the whole lake"))
    return out

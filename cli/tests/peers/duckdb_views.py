"""Reads the lake the way an analyst's tools do, from what Glue says: every table eventlake
registered, at the location Glue returns, through DuckDB's `delta_scan` (over moto's S3) and
Polars' `read_delta`; then every dashboard view, transpiled from Trino to DuckDB by sqlglot,
over those tables, compared row for row with DataFusion's rows for the same view.

argv: moto endpoint, Glue database, views folder, folder of DataFusion's rows
(`<view>.json`, as `eventlake sql --format json` prints them). Prints one JSON report.
"""

import datetime
import decimal
import json
import os
import re
import sys

import boto3
import duckdb
import polars as pl
import sqlglot
from duckdb_extensions import import_extension

endpoint, database, views_dir, datafusion_dir = sys.argv[1:5]
host = endpoint.removeprefix("http://")

glue = boto3.client(
    "glue",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="test",
    aws_secret_access_key="test",
)
tables = {}
for page in glue.get_paginator("get_tables").paginate(DatabaseName=database):
    for table in page["TableList"]:
        if table.get("Parameters", {}).get("eventlake.managed"):
            tables[table["Name"]] = table["StorageDescriptor"]["Location"]

con = duckdb.connect()
for extension in ("httpfs", "delta"):
    import_extension(extension, con=con)
    con.sql(f"LOAD {extension}")
con.sql("SET TimeZone = 'UTC'")
con.sql(
    f"CREATE SECRET (TYPE S3, KEY_ID 'test', SECRET 'test', REGION 'us-east-1', "
    f"ENDPOINT '{host}', URL_STYLE 'path', USE_SSL false)"
)
storage = {
    "AWS_ENDPOINT_URL": endpoint,
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_REGION": "us-east-1",
    "AWS_ALLOW_HTTP": "true",
}

report = {"tables": {}, "views": {}}
for name, location in sorted(tables.items()):
    con.sql(f"CREATE VIEW {name} AS SELECT * FROM delta_scan('{location}')")
    report["tables"][name] = {
        "location": location,
        "delta_scan": con.sql(f"SELECT count(*) FROM {name}").fetchone()[0],
        "polars": pl.read_delta(location, storage_options=storage).height,
    }

NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d")


def normal(value):
    """One spelling per value across the two engines (JSON text on one side, Python values
    on the other); floats to 10 significant digits."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float, decimal.Decimal)):
        return float(f"{float(value):.10g}")
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, str) and NUMBER.match(value):
        return float(f"{float(value):.10g}")
    if isinstance(value, str) and TIMESTAMP.match(value):
        return value[:19].replace("T", " ")
    return value


def ordered(rows):
    return sorted(rows, key=lambda r: [(v is None, str(v)) for v in r])


for file in sorted(os.listdir(views_dir)):
    view = file.removesuffix(".sql")
    with open(os.path.join(views_dir, file)) as f:
        trino = f.read()
    con.sql(sqlglot.transpile(trino, read="trino", write="duckdb")[0])
    relation = con.sql(f"SELECT * FROM {view}")
    columns = relation.columns
    duck = ordered([tuple(normal(v) for v in row) for row in relation.fetchall()])
    with open(os.path.join(datafusion_dir, f"{view}.json")) as f:
        fusion = ordered(
            [tuple(normal(row.get(c)) for c in columns) for row in json.load(f)]
        )
    differences = [
        {"duckdb": list(d), "datafusion": list(f)} for d, f in zip(duck, fusion) if d != f
    ]
    report["views"][view] = {
        "columns": columns,
        "duckdb_rows": len(duck),
        "datafusion_rows": len(fusion),
        "equal": duck == fusion,
        "first_differences": differences[:3],
    }

print(json.dumps(report), flush=True)
# deltalake's bindings (under Polars) sometimes abort during interpreter teardown.
os._exit(0)

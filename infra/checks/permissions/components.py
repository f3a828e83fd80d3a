"""The deployed code paths: which commands run which sources, with which lake layers.

A component is what one kind of launch in the template runs (the Lambda's bootstrap, the
consumer, serve, jobs, maintain, catalog): its command prefixes, the files it runs (globs,
`!` to leave one out), the files some flags add, the lake layers it reads and writes, and the
operations the stack makes unnecessary. Invariant: every Rust file with an AWS call is claimed
by a component or listed in NOT_DEPLOYED with the reason (needs.py fails otherwise), and every
file named here exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from ..cfn_model import ROOT

LAYERS = ["bronze", "silver", "gold", "ops"]


@dataclass
class Component:
    """A deployed code path: the commands that run it and the sources it runs."""

    name: str
    commands: list[list[str]]
    files: list[str]
    reads: list[str]
    writes: list[str] = field(default_factory=list)
    # Sources reached only when the command carries a flag (or, with `!`, lacks it).
    with_flag: dict[str, list[str]] = field(default_factory=dict)
    # Operations the code calls that the stack makes unnecessary, with the reason;
    # needs.provided_by_stack checks the stack really provides the resource.
    provided: dict[str, str] = field(default_factory=dict)
    # Athena runs statements with the caller's identity: Glue and the result bucket.
    athena: bool = False

    def files_for(self, command: list[str]) -> list[str]:
        """The sources a launch with this command runs."""
        files = expand(self.files)
        for flag, more in self.with_flag.items():
            if (flag.lstrip("!") in command) != flag.startswith("!"):
                files += [f for f in expand(more) if f not in files]
        return files

    def every_file(self) -> set[str]:
        return set(expand(self.files)).union(*(expand(more) for more in self.with_flag.values()))


INGEST_CORE = ["ingest/src/ingestor.rs", "ingest/src/seen.rs", "ingest/src/replay.rs"]

COMPONENTS = [
    Component(
        "lambda-ingest",
        commands=[["<bootstrap>"]],
        files=["cli/src/bin/bootstrap.rs", "ingest/src/source/lambda.rs", *INGEST_CORE],
        reads=["bronze"],
        writes=["bronze"],
    ),
    Component(
        "kinesis-consumer",
        commands=[["ingest", "kinesis"]],
        files=[
            "cli/src/commands/kinesis.rs",
            "ingest/src/source/kinesis/mod.rs",
            "ingest/src/source/kinesis/client.rs",
            "ingest/src/source/kinesis/consumer.rs",
            "ingest/src/source/kinesis/shard.rs",
            "ingest/src/source/kinesis/metrics.rs",
            *INGEST_CORE,
        ],
        with_flag={
            "--lease-table": ["ingest/src/source/kinesis/lease.rs"],
            "--efo": ["ingest/src/source/kinesis/efo.rs"],
        },
        reads=["bronze"],
        writes=["bronze"],
        provided={"dynamodb:CreateTable": "the stack creates the lease table (called only when it is missing)"},
    ),
    Component(
        "serve",
        commands=[["serve"]],
        files=["cli/src/commands/serve.rs", "serving-api/src/**/*.rs"],
        # The collector (`POST /v1/events`) is mounted unless --no-collect.
        with_flag={"!--no-collect": ["ingest/src/source/http.rs", *INGEST_CORE]},
        reads=["gold", "bronze"],
        writes=["bronze"],
    ),
    Component(
        "jobs",
        commands=[["jobs", "run"]],
        files=["cli/src/commands/jobs.rs", "jobs/src/*.rs", "!jobs/src/schedule.rs"],
        reads=["bronze", "silver", "gold", "ops"],
        writes=["silver", "gold", "ops"],
    ),
    Component(
        "maintain",
        commands=[["maintain"]],
        files=["cli/src/commands/maintain.rs", "lake/src/maintain.rs"],
        reads=LAYERS,
        writes=LAYERS,
    ),
    Component(
        "catalog",
        commands=[["catalog", "sync"], ["athena", "views"]],
        files=["cli/src/commands/catalog.rs", "catalog/src/*.rs", "jobs/src/views.rs"],
        reads=LAYERS,
        provided={"glue:CreateDatabase": "the stack creates the Glue database (called only when it is missing)"},
        athena=True,
    ),
]

# Files with AWS calls (SDK or lake) that no deployed role runs, and why.
NOT_DEPLOYED = {
    "ingest/src/source/kinesis/producer.rs": "`generate --to kinesis://`, a load generator run by hand",
    "jobs/src/schedule.rs": "`jobs schedule`, replaced in AWS by EventBridge Scheduler",
}


def component_of(launch: dict) -> Component:
    for comp in COMPONENTS:
        if any(launch["command"][: len(prefix)] == prefix for prefix in comp.commands):
            return comp
    raise SystemExit(f"{launch['resource']} runs `{' '.join(launch['command'])}`, which no component in components.py describes")


def expand(patterns: list[str]) -> list[str]:
    """The files the patterns name, in order; `!path` leaves one out; every one must exist."""
    return list(expanded(tuple(patterns)))


@cache
def expanded(patterns: tuple[str, ...]) -> tuple[str, ...]:
    keep: list[str] = []
    drop = {p[1:] for p in patterns if p.startswith("!")}
    for p in patterns:
        if p.startswith("!"):
            continue
        matches = sorted(q.relative_to(ROOT).as_posix() for q in ROOT.glob(p)) if "*" in p else [p]
        if not matches:
            raise SystemExit(f"components.py: {p} matches no file")
        for rel in matches:
            if not (ROOT / rel).exists():
                raise SystemExit(f"components.py names {rel}, which does not exist")
            if rel not in drop and rel not in keep:
                keep.append(rel)
    return tuple(keep)

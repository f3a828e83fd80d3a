"""What the Rust code calls on AWS, read from the sources of every workspace crate (test
modules and `tests/` folders left out).

SDK operations: a call `.op_name(` is an operation of a service when `op_name` is that
service's operation in botocore's model and the file names the service's crate
(`aws_sdk_<service>`); in a file that names no SDK crate but sends requests (`.send()`), an
empty-argument `.op_name()` (how an SDK fluent builder starts) counts too, so a client reached
through another module is not missed. Lake operations (S3 through object_store and deltalake)
are found by the calls that make them (LAKE_MARKERS); lake.py turns them into S3 requests.

Invariant: nothing is skipped silently. A crate `aws_sdk_<x>` with no botocore model, or an
operation name two services share in a file that names neither, is a problem reported by `read`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache

from ..cfn_model import ROOT

# The botocore model of an SDK crate whose name is not the model's.
MODEL_OF_CRATE = {"cloudwatchlogs": "logs", "eventbridge": "events", "sfn": "stepfunctions"}

SDK_CRATE = re.compile(r"\baws_sdk_([a-z0-9]+)\b")
METHOD_CALL = re.compile(r"\.\s*([a-z][a-z0-9_]*)\s*\((\s*\))?")

# What a piece of code does with the lake, found by the calls that do it.
LAKE_MARKERS = {
    "commit": r"open_or_create\(|CommitBuilder|\.merge\(",
    "put_file": r"\blake\.put\(",
    "list_root": r"\.tables\(\)",
    "optimize": r"\.optimize\(\)",
    "vacuum": r"\.vacuum\(\)",
    "checkpoint": r"\bcreate_checkpoint\(",
    "log_cleanup": r"\bcleanup_metadata\(",
}


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    file: str
    line: int


@dataclass
class Code:
    """The sources, what they call, and the problems found reading them."""

    sources: dict[str, str]
    calls: dict[str, list[Call]]  # file -> SDK calls in it
    lake: dict[str, dict[str, list[str]]]  # file -> lake operation -> file:line of each
    problems: list[str]

    def lake_actions(self, files: list[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for rel in files:
            for what, where in self.lake.get(rel, {}).items():
                out.setdefault(what, []).extend(where)
        return out


@cache
def rust_sources() -> dict[str, str]:
    """Path relative to the repository -> the file's code, every non-test Rust file of the workspace."""
    members = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["members"]
    out = {}
    for crate in members:
        for path in sorted((ROOT / crate).rglob("*.rs")):
            rel = path.relative_to(ROOT).as_posix()
            if "/tests/" in f"/{rel}" or "/benches/" in rel or rel.endswith("build.rs"):
                continue
            out[rel] = code_of(path.read_text())
    return out


def code_of(text: str) -> str:
    """The file without its `#[cfg(test)] mod …` (by convention the file's last item)."""
    m = re.search(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+", text)
    return text[: m.start()] if m else text


@cache
def operations(crate: str) -> dict[str, str] | None:
    """snake_case method -> OperationName of the SDK crate's service, from botocore's model."""
    import botocore.session
    from botocore import xform_name
    from botocore.exceptions import UnknownServiceError

    try:
        model = botocore.session.get_session().get_service_model(MODEL_OF_CRATE.get(crate, crate))
    except UnknownServiceError:
        return None
    return {xform_name(op): op for op in model.operation_names}


def read(sources: dict[str, str]) -> Code:
    problems: list[str] = []
    named = {rel: set(SDK_CRATE.findall(text)) for rel, text in sources.items()}
    ops: dict[str, dict[str, str]] = {}
    for crate in sorted(set().union(*named.values())):
        found = operations(crate)
        if found is None:
            where = sorted(rel for rel, crates in named.items() if crate in crates)
            problems.append(f"{', '.join(where)} names aws_sdk_{crate}, which has no botocore model: map it in scan.py MODEL_OF_CRATE")
        else:
            ops[crate] = found
    calls: dict[str, list[Call]] = {}
    lake: dict[str, dict[str, list[str]]] = {}
    for rel, text in sources.items():
        sends = ".send()" in text
        for m in METHOD_CALL.finditer(text):
            method, line = m.group(1), text.count("\n", 0, m.start()) + 1
            owners = [s for s in sorted(named[rel]) if method in ops.get(s, {})]
            if not owners and sends and m.group(2) is not None:
                owners = [s for s in ops if method in ops[s]]
                if len(owners) > 1:
                    problems.append(f"{rel}:{line} calls `{method}()`, an operation of {owners}: name the SDK crate in the file")
                    continue
            for service in owners:
                calls.setdefault(rel, []).append(Call(service, ops[service][method], rel, line))
        for what, pattern in LAKE_MARKERS.items():
            for m in re.finditer(pattern, text):
                lake.setdefault(rel, {}).setdefault(what, []).append(f"{rel}:{text.count(chr(10), 0, m.start()) + 1}")
    return Code(sources, calls, lake, problems)

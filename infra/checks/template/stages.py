"""The stages of `python infra/check.py`, in the order they run, and the run over them.

1. `lint`: cfn-lint on the template.
2. `transform`: the SAM transform (transform.py).
3. `lint-transformed`: cfn-lint on the transformed template.
4. `moto-lambda`, `moto-consumer`: CreateStack on moto per ingest mode (deploy.py).
5. `contract`: the template against the CLI, jobs/defs and `[maintain]` (contract.py).

Invariant: the self-test runs the same `run` with a subset of the stages, so a mutation it
detects is detected by the full check's code; a stage that needs the transformed template
gets the transform (and its checks) run first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import cfn_model
from . import contract, deploy, lint, transform
from .report import Report

STAGES = ("lint", "transform", "lint-transformed", *(f"moto-{mode}" for mode in cfn_model.MODES), "contract")
NEED_TRANSFORM = {"transform", "lint-transformed", "moto-lambda", "moto-consumer"}


@dataclass
class Run:
    report: Report
    # Resource types moto skipped, per ingest mode.
    skipped: dict[str, list[str]] = field(default_factory=dict)


def run(path: Path, build: Path, stages: tuple[str, ...] = STAGES, verbose: bool = False) -> Run:
    """The checks of `stages` on the template at `path`; the transformed template goes to `build`."""
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise ValueError(f"no stage {sorted(unknown)} (stages: {', '.join(STAGES)})")
    result = Run(Report(verbose))
    report = result.report
    source = cfn_model.load(path)
    if "lint" in stages:
        with report.stage("lint"):
            lint.check(report, path)
    transformed = None
    if NEED_TRANSFORM & set(stages):
        with report.stage("transform"):
            transformed, transformed_path = transform.check(report, source, build)
    # Without a transformed template (the transform failed, and said why) these stages cannot run.
    if transformed is not None and "lint-transformed" in stages:
        with report.stage("lint-transformed"):
            lint.check(report, transformed_path)
    for mode in cfn_model.MODES:
        if transformed is not None and f"moto-{mode}" in stages:
            with report.stage(f"moto-{mode}"):
                result.skipped[mode] = deploy.check(report, source, transformed, mode)
    if "contract" in stages:
        with report.stage("contract"):
            contract.check(report, source)
    return result

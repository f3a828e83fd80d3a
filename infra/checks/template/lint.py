"""cfn-lint on one template file, informational checks included, in process.

cfn-lint 1.x validates a SAM template without transforming it and does not look inside
`AWS::Serverless::Function` (a wrong `StartingPosition` passes), so stages.py lints the
transformed template as well. Invariant: any match at all (error, warning or informational)
is a failure, reported with cfn-lint's rule, the path to the property, its message, and the
file and line.
"""

from __future__ import annotations

from pathlib import Path

from .report import Report, display


def check(report: Report, path: Path) -> None:
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(path, ManualArgs(include_checks=["I"]))
    found = [f"{m.rule.id} {m.path_string}: {m.message} ({display(Path(m.filename))}:{m.linenumber})" for m in matches]
    report.ok(f"cfn-lint {display(path)} (errors, warnings, informational)", not found, "\n".join(found))

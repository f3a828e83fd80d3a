"""The outcome of one run of infra/check.py: per stage, the checks that passed, those that
failed and why, and where moto did not keep a property so the template's value was asserted.

Invariant: every check counts once, as passed or failed, in the stage that ran it; a failure
keeps its detail (the value seen, or the exception that stopped the stage, with where it was
raised). The default output is counts and failures; `verbose` prints every check as it runs.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from ..cfn_model import ROOT


@dataclass
class Stage:
    name: str
    passed: int = 0
    failed: int = 0
    seconds: float = 0.0
    # Checks passed on the template's value because moto dropped the property.
    from_template: list[str] = field(default_factory=list)


class Report:
    def __init__(self, verbose: bool = False) -> None:
        self.verbose = verbose
        self.stages: dict[str, Stage] = {}
        self.failures: list[str] = []
        self.current = Stage("")

    @contextlib.contextmanager
    def stage(self, name: str):
        """Checks made inside count for `name`; an exception ends the stage as a failure."""
        self.current = self.stages.setdefault(name, Stage(name))
        if self.verbose:
            print(f"\n== {name}")
        started = time.monotonic()
        try:
            yield
        except Exception as e:  # noqa: BLE001 - reported with its cause, not swallowed
            if self.verbose:
                traceback.print_exc()
            self.ok("the stage ran to its end", False, cause(e))
        finally:
            self.current.seconds += time.monotonic() - started

    def note(self, text: str) -> None:
        if self.verbose:
            print(f"  {text}")

    def ok(self, label: str, condition: bool, detail: object = "") -> bool:
        suffix = f": {detail}" if detail != "" else ""
        if condition:
            self.current.passed += 1
        else:
            self.current.failed += 1
            self.failures.append(f"[{self.current.name}] {label}{suffix}")
        if self.verbose:
            print(f"  {'ok  ' if condition else 'FAIL'} {label}" + ("" if condition else suffix))
        return condition

    def moto_or_template(self, label: str, moto_value: object, template_value: object, expected: object) -> None:
        """moto's value when moto kept the property; else the template's, and say so. moto
        answers nothing or its own default for a property it drops (a provisioned stream, bridge
        networking, EC2 launch type), so a differing moto value falls back too: the template's
        value must still be the expected one."""
        if moto_value == expected:
            self.ok(label, True)
        elif template_value == expected:
            self.ok(f"{label} (from the template: moto dropped it)", True)
            self.current.from_template.append(label)
        else:
            self.ok(label, False, f"moto {moto_value!r}, template {template_value!r}, expected {expected!r}")

    @property
    def passed(self) -> int:
        return sum(s.passed for s in self.stages.values())

    def summary(self) -> list[str]:
        lines = []
        for s in self.stages.values():
            line = f"  {s.name}: {s.passed} passed" + (f", {s.failed} FAILED" if s.failed else "") + f" in {s.seconds:.1f} s"
            if s.from_template:
                line += f" ({len(s.from_template)} on the template's value, moto dropped the property)"
            lines.append(line)
        return lines


def cause(e: BaseException) -> str:
    """`Type: message (at file:line in function)`, and the same for what caused it."""
    frame = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
    where = f" (at {display(Path(frame.filename))}:{frame.lineno} in {frame.name})" if frame else ""
    text = f"{type(e).__name__}: {e}{where}"
    return f"{text}; caused by {cause(e.__cause__)}" if e.__cause__ else text


def display(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)

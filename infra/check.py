#!/usr/bin/env python3
"""Offline checks of infra/template.yaml: cfn-lint (on the template and on its SAM transform),
a CreateStack on moto per ingest mode with assertions on what was created, and the template's
contract with the code (cli/src/args.rs, jobs/defs, `[maintain]`). The stages are in
infra/checks/template/stages.py.

Prints the checks passed per stage and every failure; `--verbose` prints each check, and the
properties moto dropped (asserted on the template instead). `--self-test` then breaks the
template on purpose and shows each break is caught by the stage meant to catch it. Invariant:
exit status 0 only if every check passed (and, with --self-test, every break was caught).
Nothing here talks to AWS. Run with the infra venv (see docs/deploy.md):
`.venv-infra/bin/python infra/check.py [--self-test] [--verbose]`.
"""

from __future__ import annotations

import argparse
import sys
import time

from checks.cfn_model import INFRA, TEMPLATE
from checks.template import offline, self_test, stages


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--self-test", action="store_true", help="then break the template on purpose and show each break is caught")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every check, and the properties moto dropped")
    args = ap.parse_args()
    offline.isolate()
    started = time.monotonic()
    result = stages.run(TEMPLATE, INFRA / "build", verbose=args.verbose)
    report = result.report
    print(f"check.py: {TEMPLATE.relative_to(INFRA.parent)} ({time.monotonic() - started:.1f} s)")
    print("\n".join(report.summary()))
    skipped = sorted({t for ts in result.skipped.values() for t in ts})
    print(f"  moto skipped {len(skipped)} resource types, asserted on the template: {', '.join(skipped)}")
    if args.verbose:
        print("  moto created but dropped these properties (asserted on the template):")
        for label in sorted({label for s in report.stages.values() for label in s.from_template}):
            print(f"    {label}")
    if report.failures:
        print(f"\nFAILED: {len(report.failures)} of {report.passed + len(report.failures)} checks")
        for f in report.failures:
            print(f"  {f}")
        return 1
    print(f"\nOK: {report.passed} checks passed" + ("" if args.verbose else " (--verbose lists them)"))
    if args.self_test:
        started = time.monotonic()
        ok = self_test.run()
        print(f"self-test: {len(self_test.MUTATIONS)} mutations in {time.monotonic() - started:.1f} s: {'every one detected' if ok else 'NOT ALL DETECTED'}")
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Least privilege, checked: every AWS call eventlake's code makes is allowed to the role that
runs that code in infra/template.yaml, and nothing else is.

1. Scan the Rust sources of every workspace crate (tests left out) for AWS SDK operations and
   lake operations (checks/permissions/scan.py).
2. Bind code to roles through the template: each Lambda function, ECS service and schedule
   names the command it runs and, through its task definition, the role it runs as; the
   command picks the component (components.py), its flags the optional code paths, its
   environment the resources (needs.py), plus what AWS itself does with the role (platform.py)
   and the S3 requests of the lake operations (lake.py).
3. Evaluate each role's inline policies against every needed request and against requests
   that must be refused (iam.py, audit.py), in both ingest modes.

Prints a summary; `-v` lists the operations found per file and the requests per role.
`--self-test` then breaks the template and the code on purpose and shows the check fails for
each (self_test.py). Invariant: exit status 0 only if every role allows exactly what is needed
(and, with --self-test, every break was caught). Run with the infra venv:
`.venv-infra/bin/python infra/permissions.py [--self-test] [--verbose]`.
"""

from __future__ import annotations

import argparse
import sys
import time

from checks import cfn_model
from checks.permissions import audit, scan, self_test
from checks.permissions.components import COMPONENTS, NOT_DEPLOYED


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--self-test", action="store_true", help="break the template and the code on purpose and show the check fails")
    ap.add_argument("-v", "--verbose", action="store_true", help="list the operations found and the requests per role")
    args = ap.parse_args()
    started = time.monotonic()
    template = cfn_model.load()
    code = scan.read(scan.rust_sources())
    operations = {f"{c.service}:{c.operation}" for calls in code.calls.values() for c in calls}
    print(f"permissions.py: {len(code.sources)} Rust files; {len(operations)} AWS SDK operations in {len(code.calls)} of them "
          f"({len([f for f in code.calls if f in NOT_DEPLOYED])} not deployed); lake operations of {len(COMPONENTS)} components")
    if args.verbose:
        print_scan(code)
    errors = audit.run_all(template, code, verbose=args.verbose)
    if errors:
        print(f"\nFAILED: {len(errors)} problem(s)")
        for e in errors:
            print(f"  {e}")
        return 1
    print(f"\nOK: every role allows exactly what its code and services need, in both ingest modes ({', '.join(cfn_model.MODES)}) "
          f"({time.monotonic() - started:.1f} s)")
    if args.self_test:
        started = time.monotonic()
        ok = self_test.run(template, code)
        print(f"self-test: {time.monotonic() - started:.1f} s: {'every break detected' if ok else 'NOT ALL DETECTED'}")
        return 0 if ok else 1
    return 0


def print_scan(code: scan.Code) -> None:
    print("AWS SDK operations in the Rust sources:")
    for rel, calls in sorted(code.calls.items()):
        print(f"  {rel} ({'not deployed: ' + NOT_DEPLOYED[rel] if rel in NOT_DEPLOYED else 'deployed'})")
        for action in sorted({f"{c.service}:{c.operation}" for c in calls}):
            lines = ",".join(str(c.line) for c in calls if f"{c.service}:{c.operation}" == action)
            print(f"    {action}  (line {lines})")
    print("Lake operations (S3 through object_store/deltalake):")
    for comp in COMPONENTS:
        does = code.lake_actions(sorted(comp.every_file()))
        print(f"  {comp.name}: reads {comp.reads}, writes {comp.writes}; {sorted(does)}")


if __name__ == "__main__":
    sys.exit(main())

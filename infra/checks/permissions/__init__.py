"""The stages of `python infra/permissions.py`: read the code's AWS calls (scan.py), bind code
to roles through the template (components.py, needs.py, platform.py, lake.py), evaluate each
role's policies against what it needs and what it must be refused (iam.py, audit.py).

Invariant: what the code calls comes from the Rust sources on every run; the only hand-kept
tables are the mapping from an operation to the resources IAM authorises it on (needs.py), what
AWS services do with a role (platform.py), and which code each deployed command runs
(components.py). A call the tables do not cover is a failure, never a skip.
"""

"""The stages of `python infra/check.py`: lint, transform, moto, contract (see stages.py).

Invariant: every stage reports through one Report (report.py), so a failure anywhere is counted,
kept with its cause, and makes the command exit non-zero.
"""

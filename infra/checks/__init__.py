"""The offline checks of infra/template.yaml, behind the two commands that run them.

`python infra/check.py` runs template/: cfn-lint, the SAM transform, a CreateStack on moto per
ingest mode, and the template's contract with the CLI. `python infra/permissions.py` runs
permissions/: the Rust code's AWS calls against each role's policy. Both share cfn_model.py (the
template as data, resolved for one stage) and launches.py (what the stage runs, as which role).

Invariant: nothing here talks to AWS or runs cargo, and nothing is written to the repository but
the transformed template in infra/build/ (and Python's ignored __pycache__).
"""

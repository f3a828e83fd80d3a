"""Each role's policies against its needs, in both ingest modes: every needed request allowed,
every request that must fail refused, no grant that no request uses, no wildcard action, no
`*` resource beyond the actions that take nothing else, no resource that stays the same when
the stage changes.

Invariant: a stage is judged against a twin of itself (`prod` with another image), so a
resource is "scoped to the stage" only if it resolves differently there; the failures name
the role, the policy and the request or grant at fault.
"""

from __future__ import annotations

from .. import cfn_model
from ..cfn_model import Stack
from .iam import decide, glob, listify, statements
from .needs import needs_by_role
from .scan import Code

# Actions with no resource-level permissions: `*` is the only resource they take.
STAR_ONLY = {"ecr:getauthorizationtoken": "ECR has no resource-level permission for it"}
# Resources that are the same for every stage by nature.
ACCOUNT_WIDE = {
    "arn:aws:glue:*:*:catalog": "every Glue call names the account's Data Catalog as well",
}


def check(stack: Stack, other: Stack, code: Code, verbose: bool = False) -> list[str]:
    roles, errors = needs_by_role(stack, code)
    for name, r in stack.resources().items():
        if r["Type"] == "AWS::IAM::Role" and name not in roles:
            errors.append(f"{name}: no deployed code runs as this role")
    for name, needs in roles.items():
        sts, errs = statements(stack, name)
        errors += errs
        used: dict[int, set[str]] = {}
        used_resources: set[tuple[int, int]] = set()
        for req in needs.allowed:
            ok, i = decide(sts, req)
            if not ok:
                errors.append(f"{name}: {req.action} on {req.resource} {dict(req.context) or ''} is refused (needed by {req.why})")
                continue
            used.setdefault(i, set()).add(req.action.lower())
            for j, pattern in enumerate(listify(sts[i]["Resource"])):
                if glob(pattern, req.resource):
                    used_resources.add((i, j))
        for req in needs.refused:
            ok, i = decide(sts, req)
            if ok:
                errors.append(f"{name}: {req.action} on {req.resource} is allowed but must not be ({req.why}; statement in {sts[i]['_policy']})")
        needed_actions = {r.action.lower() for r in needs.allowed}
        other_sts, _ = statements(other, name) if name in other.resources() else ([], [])
        for i, st in enumerate(sts):
            if st["Effect"] != "Allow":
                continue
            for action in listify(st["Action"]):
                if "*" in action or "?" in action:
                    errors.append(f"{name}/{st['_policy']}: wildcard action {action}")
                elif action.lower() not in needed_actions:
                    errors.append(f"{name}/{st['_policy']}: grants {action}, which no code or service needs")
                elif action.lower() not in used.get(i, set()):
                    errors.append(f"{name}/{st['_policy']}: the grant of {action} on {st['Resource']} is used by no request")
            for j, res in enumerate(listify(st["Resource"])):
                if res == "*":
                    bad = [a for a in listify(st["Action"]) if a.lower() not in STAR_ONLY]
                    if bad:
                        errors.append(f"{name}/{st['_policy']}: Resource * for {bad}")
                    continue
                if (i, j) not in used_resources:
                    errors.append(f"{name}/{st['_policy']}: the grant on {res} is used by no request")
                if any(glob(p, res) for p in ACCOUNT_WIDE):
                    continue
                twin = listify(other_sts[i]["Resource"])[j] if i < len(other_sts) else None
                if twin == res:
                    errors.append(f"{name}/{st['_policy']}: resource {res} is the same in another stage (not scoped to this stage's resources)")
        if verbose:
            print(f"  {name}: {len(needs.allowed)} needed requests allowed, {len(needs.refused)} refused, for {', '.join(needs.launches)}")
    return errors


def stacks(template: dict, **overrides: str) -> tuple[Stack, Stack]:
    """The stage checked (dev) and its twin (prod, another image) for the same parameters."""
    given = cfn_model.sample_parameters("dev", **overrides)
    other = cfn_model.sample_parameters(
        "prod",
        **overrides,
        ImageUri=f"{cfn_model.ACCOUNT}.dkr.ecr.{cfn_model.REGION}.amazonaws.com/eventlake-prod:2.0.0",
    )
    return Stack.of(template, given), Stack.of(template, other)


def run_all(template: dict, code: Code, verbose: bool = False) -> list[str]:
    """Every failure, in every ingest mode, each prefixed with its mode."""
    errors = []
    for mode, overrides in cfn_model.MODES.items():
        dev, prod = stacks(template, **overrides)
        if verbose:
            print(f"[{mode}]")
        errors += [f"[{mode}] {e}" for e in check(dev, prod, code, verbose)]
    return errors

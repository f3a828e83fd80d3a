"""IAM policy evaluation, as far as the template needs it: a request (action, resource,
condition context) against a role's inline policy statements, Allow and Deny, with the
condition operators the template uses.

Invariant: anything not modelled fails loudly: a managed policy, NotAction/NotResource/
NotPrincipal, or a condition operator outside CONDITIONS is an error, never treated as allowed.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from ..cfn_model import Stack


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: tuple = ()
    why: str = ""

    def ctx(self) -> dict[str, str]:
        return dict(self.context)


def listify(v) -> list:
    return v if isinstance(v, list) else [v]


def glob(pattern: str, value: str, case: bool = True) -> bool:
    """IAM's `*` and `?` wildcards; `[` is literal."""
    pattern = pattern.replace("[", "[[]")
    return fnmatch.fnmatchcase(value, pattern) if case else fnmatch.fnmatchcase(value.lower(), pattern.lower())


CONDITIONS = {
    "Bool": lambda have, wanted: have in wanted,
    "StringEquals": lambda have, wanted: have in wanted,
    "ArnEquals": lambda have, wanted: have in wanted,
    "StringLike": lambda have, wanted: any(glob(w, have) for w in wanted),
    "ArnLike": lambda have, wanted: any(glob(w, have) for w in wanted),
    "NumericLessThan": lambda have, wanted: any(float(have) < float(w) for w in wanted),
}


def condition_holds(condition: dict, ctx: dict[str, str]) -> bool:
    """Every operator and key of the Condition block holds; a key the request lacks does not."""
    for op, tests in condition.items():
        if op not in CONDITIONS:
            raise SystemExit(f"condition operator {op} is not modelled in iam.py")
        for key, wanted in tests.items():
            have = ctx.get(key)
            if have is None or not CONDITIONS[op](have, [str(w) for w in listify(wanted)]):
                return False
    return True


def statements(stack: Stack, role: str) -> tuple[list[dict], list[str]]:
    """The role's inline policy statements (each with its `_policy` name), and what cannot be checked."""
    props = stack.resolved(role)["Properties"]
    errors = []
    if props.get("ManagedPolicyArns"):
        errors.append(f"{role}: managed policies {props['ManagedPolicyArns']} cannot be checked; use inline policies")
    out = []
    for policy in props.get("Policies", []):
        for st in listify(policy["PolicyDocument"]["Statement"]):
            for bad in ("NotAction", "NotResource", "NotPrincipal"):
                if bad in st:
                    errors.append(f"{role}/{policy['PolicyName']}: {bad} is not allowed")
            out.append({**st, "_policy": policy["PolicyName"]})
    return out, errors


def decide(sts: list[dict], req: Request) -> tuple[bool, int | None]:
    """Allowed or not, and the index of the statement that decided (an explicit Deny wins)."""
    ctx = req.ctx()
    allowed_by = None
    for i, st in enumerate(sts):
        if not any(glob(a, req.action, case=False) for a in listify(st.get("Action", []))):
            continue
        if not any(glob(p, req.resource) for p in listify(st.get("Resource", []))):
            continue
        if "Condition" in st and not condition_holds(st["Condition"], ctx):
            continue
        if st["Effect"] == "Deny":
            return False, i
        if allowed_by is None:
            allowed_by = i
    return allowed_by is not None, allowed_by


@dataclass
class Needs:
    """What one role must be allowed and refused, with the launches those needs come from."""

    allowed: list[Request] = field(default_factory=list)
    refused: list[Request] = field(default_factory=list)
    launches: list[str] = field(default_factory=list)

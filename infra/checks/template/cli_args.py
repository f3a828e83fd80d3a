"""The command line of cli/src/args.rs, read from its clap derive: the subcommand tree, each
command's flags (long and short names, whether they take a value, the values of a ValueEnum,
the environment variable that can stand in, whether required, and clap's relations between
flags: `requires`, `conflicts_with`, `required_unless_present`, `required_if_eq`), and the
check of one argv with the environment it runs in.

A reader of the Rust source, not a Rust parser: it knows the shapes args.rs uses (`pub struct`
and `pub enum` items, `#[arg(...)]`, `#[command(flatten)]`, `#[command(subcommand)]`).
Invariant: an argv is valid only if every token is a known subcommand, flag or flag value, and
every relation holds (a flag counts as given, as for clap, when it is on the command line or
its variable is set); an unknown token is a problem, never skipped.
"""

from __future__ import annotations

import re


def kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower().replace("_", "-")


def rust_items(text: str) -> dict[str, dict]:
    """Structs and enums of cli/src/args.rs with their fields/variants and attributes."""
    items = {}
    for m in re.finditer(r"((?:#\[[^\]]*(?:\][^\]]*)*?\]\s*)*)pub (struct|enum) (\w+) \{", text):
        depth, i = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        body = text[m.end(): i - 1]
        members = []
        attrs: list[str] = []
        pos = 0
        while pos < len(body):
            rest = body[pos:]
            ws = re.match(r"\s+|///[^\n]*\n|//[^\n]*\n", rest)
            if ws:
                pos += ws.end()
                continue
            if rest.startswith("#["):
                depth, j = 0, 1
                while True:
                    depth += {"[": 1, "]": -1}.get(rest[j], 0)
                    j += 1
                    if depth == 0:
                        break
                attrs.append(rest[:j])
                pos += j
                continue
            field_m = re.match(r"pub (\w+): ([^,\n]+),", rest)
            variant_m = re.match(r"(\w+)(?:\((\w+)\))?,", rest)
            if m.group(2) == "struct" and field_m:
                members.append({"name": field_m.group(1), "type": field_m.group(2).strip(), "attrs": attrs})
                pos += field_m.end()
            elif m.group(2) == "enum" and variant_m:
                members.append({"name": variant_m.group(1), "type": variant_m.group(2), "attrs": attrs})
                pos += variant_m.end()
            else:
                pos += 1
            attrs = []
        items[m.group(3)] = {"kind": m.group(2), "attrs": m.group(1), "members": members}
    return items


def inner_type(t: str) -> str:
    m = re.fullmatch(r"(?:Option|Vec)<(.+)>", t)
    return inner_type(m.group(1)) if m else t


def flags_of(items: dict, struct: str) -> dict[str, dict]:
    out = {}
    for f in items[struct]["members"]:
        attrs = " ".join(f["attrs"])
        if "command(flatten)" in attrs:
            out.update(flags_of(items, inner_type(f["type"])))
            continue
        if "command(subcommand)" in attrs or "arg(" not in attrs:
            continue
        long_m = re.search(r'long\s*=\s*"([^"]+)"', attrs)
        names = []
        if re.search(r"\blong\b", attrs):
            names.append("--" + (long_m.group(1) if long_m else f["name"].replace("_", "-")))
        if re.search(r"\bshort\b", attrs):
            short_m = re.search(r"short\s*=\s*'(.)'", attrs)
            names.append("-" + (short_m.group(1) if short_m else f["name"][0]))
        enum = inner_type(f["type"])
        values = None
        if enum in items and "ValueEnum" in items[enum]["attrs"]:
            values = {kebab(v["name"]) for v in items[enum]["members"]}
        env = re.search(r'env\s*=\s*"([^"]+)"', attrs)
        spec = {
            "takes_value": f["type"] != "bool",
            "values": values,
            "delimiter": "value_delimiter" in attrs,
            "env": env.group(1) if env else None,
            "required": not re.match(r"(Option|Vec)<", f["type"]) and f["type"] != "bool" and "default_value" not in attrs and "required_unless" not in attrs,
            "global": "global = true" in attrs,
            "field": f["name"],
            "requires": re.findall(r'\brequires\s*=\s*"(\w+)"', attrs),
            "conflicts_with": re.findall(r'\bconflicts_with\s*=\s*"(\w+)"', attrs),
            "required_unless_present": re.findall(r'\brequired_unless_present\s*=\s*"(\w+)"', attrs),
            "required_if_eq": re.findall(r'\brequired_if_eq\(\s*"(\w+)"\s*,\s*"([^"]+)"\s*\)', attrs),
        }
        for n in names:
            out[n] = spec
    return out


def validate_command(items: dict, argv: list[str], env: set[str] | frozenset[str] = frozenset()) -> tuple[list[str], set[str]]:
    """Problems with one `eventlake` argv run with the variables `env` set, and the env
    variables its flags read."""
    problems = []
    global_flags = {k: v for k, v in flags_of(items, "Cli").items() if v["global"]}
    enum: str | None = "Command"  # the subcommand enum the next token must be a variant of
    i = 0
    struct = None
    while enum and i < len(argv):
        variants = {kebab(v["name"]): v for v in items[enum]["members"]}
        if argv[i] not in variants:
            return [f"`{argv[i]}` is not a subcommand of {enum} ({sorted(variants)})"], set()
        v = variants[argv[i]]
        i += 1
        if "command(subcommand)" in " ".join(v["attrs"]):
            enum = v["type"]
        else:
            enum, struct = None, v["type"]
    if enum:
        problems.append(f"`{' '.join(argv)}` needs a subcommand of {enum}")
    flags = dict(global_flags)
    if struct:
        flags.update(flags_of(items, struct))
    seen: dict[str, str | None] = {}  # field -> its value on the command line
    while i < len(argv):
        token = argv[i]
        name, _, inline = token.partition("=")
        if not token.startswith("-"):
            problems.append(f"unexpected positional `{token}`")
            i += 1
            continue
        if name not in flags:
            problems.append(f"unknown flag {name} for `{' '.join(argv[:2])}`")
            i += 1
            continue
        spec = flags[name]
        seen[spec["field"]] = None
        if spec["takes_value"]:
            value = inline or (argv[i + 1] if i + 1 < len(argv) else None)
            seen[spec["field"]] = value
            i += 1 if inline else 2
            if value is None:
                problems.append(f"{name} needs a value")
            elif spec["values"]:
                for one in value.split(",") if spec["delimiter"] else [value]:
                    if one not in spec["values"]:
                        problems.append(f"{name} {one}: not one of {sorted(spec['values'])}")
        else:
            i += 1
    by_field = {spec["field"]: (name, spec) for name, spec in flags.items() if name.startswith("--")}
    given = set(seen) | {f for f, (_, spec) in by_field.items() if spec["env"] in env}

    def flag(field: str) -> str:
        return by_field[field][0] if field in by_field else field

    for field, (name, spec) in by_field.items():
        via = f" (nor {spec['env']} set)" if spec["env"] else ""
        if spec["required"] and field not in given:
            problems.append(f"required {name} missing{via}")
        if field not in given and any(other not in given for other in spec["required_unless_present"]):
            problems.append(f"{name}{via} is required unless {', '.join(flag(o) for o in spec['required_unless_present'])} is given")
        for other, value in spec["required_if_eq"]:
            if seen.get(other) == value and field not in given:
                problems.append(f"{flag(other)} {value} requires {name}")
        if field in given:
            problems += [f"{name} requires {flag(other)}" for other in spec["requires"] if other not in given]
            problems += [f"{name} conflicts with {flag(other)}" for other in spec["conflicts_with"] if other in given]
    envs = {spec["env"] for spec in flags.values() if spec["env"]}
    return problems, envs

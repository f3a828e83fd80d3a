"""The template against the code: every command a task or schedule runs is one cli/src/args.rs
accepts (subcommands, flags, flag values); every `EVENTLAKE_*` variable a task is given is
read by a command it runs, and no variable is one the code does not know; the schedules run
exactly the jobs of jobs/defs/*.toml on their crons, and maintenance on the crons of
`[maintain]` (lake/src/config.rs).

Invariant: the code is the reference. Crons, flags and variables are read from the Rust and
TOML sources on every run, never copied here.
"""

from __future__ import annotations

import re
import tomllib

from .. import cfn_model
from ..cfn_model import ROOT, Stack
from ..launches import flag_value, launches
from . import cli_args
from .report import Report

# Variables read by the runtime or the C library rather than by eventlake's flags.
RUNTIME_ENV = {"RUST_LOG", "TMPDIR"}


def check(report: Report, template: dict) -> None:
    items = cli_args.rust_items((ROOT / "cli" / "src" / "args.rs").read_text())
    bootstrap_env = set(re.findall(r'std::env::var\("([A-Z_]+)"\)', (ROOT / "cli/src/bin/bootstrap.rs").read_text()))
    flag_env = {
        spec["env"]
        for name, item in items.items()
        if item["kind"] == "struct"
        for spec in cli_args.flags_of(items, name).values()
        if spec["env"]
    }
    known_env = flag_env | bootstrap_env | RUNTIME_ENV
    for mode, overrides in cfn_model.MODES.items():
        commands(report, items, Stack.of(template, cfn_model.sample_parameters("dev", **overrides)), mode, bootstrap_env, known_env)
    schedules(report, Stack.of(template, cfn_model.sample_parameters("dev")))


def commands(report: Report, items: dict, stack: Stack, mode: str, bootstrap_env: set[str], known_env: set[str]) -> None:
    """Each launch's command, each task definition's default command, and their variables."""
    used_env: dict[str, set[str]] = {}
    given_env: dict[str, set[str]] = {}
    defaults: dict[str, list[str]] = {}
    for launch in launches(stack):
        key = launch.get("task_definition", launch["resource"])
        given_env.setdefault(key, set()).update(n for n in launch["env"] if n.startswith("EVENTLAKE_"))
        stray = {n for n in launch["env"] if n not in known_env and not n.startswith("AWS_")}
        report.ok(f"[{mode}] {launch['resource']}: no environment variable the code does not know", not stray, sorted(stray))
        if launch["kind"] == "lambda":
            used_env.setdefault(key, set()).update(bootstrap_env)
            continue
        problems, envs = cli_args.validate_command(items, launch["command"], set(launch["env"]))
        report.ok(f"[{mode}] {launch['resource']}: `eventlake {' '.join(launch['command'])[:60]}…` is a valid command", not problems, problems)
        used_env.setdefault(key, set()).update(envs)
        if launch["command"][:2] == ["ingest", "kinesis"]:
            # A consumer with no checkpoint yet must start at the oldest record, or the records
            # put before its first start are never read.
            start = flag_value(launch["command"], "--start")
            report.ok(f"[{mode}] {launch['resource']}: starts at the stream's oldest record", start == "trim-horizon", start)
        container = stack.props(key)["ContainerDefinitions"][0]
        defaults[key] = (container["Command"], {e["Name"] for e in container.get("Environment", [])})
    for td, (command, env) in defaults.items():
        problems, _ = cli_args.validate_command(items, command, env)
        report.ok(f"[{mode}] {td}: default command `{' '.join(command)}` is valid", not problems, problems)
    for key, names in given_env.items():
        unread = names - used_env.get(key, set())
        report.ok(f"[{mode}] {key}: every EVENTLAKE_* variable is read by a command it runs", not unread, sorted(unread))


def schedules(report: Report, stack: Stack) -> None:
    """The `jobs run` schedules against jobs/defs, the `maintain` ones against `[maintain]`."""
    scheduled = [l for l in launches(stack) if l["kind"] == "schedule"]
    got: dict[str, list[str]] = {}
    for l in scheduled:
        if l["command"][:2] == ["jobs", "run"]:
            got.setdefault(l["expression"], []).extend(selected(l["command"]))
    wanted = job_schedules()
    for cron, jobs in wanted.items():
        report.ok(f"jobs on {cron} run by one schedule with exactly those jobs", sorted(got.get(cron, [])) == sorted(jobs),
                  {"template": sorted(got.get(cron, [])), "jobs/defs": sorted(jobs)})
    report.ok("no schedule for a cron no job has", set(got) <= set(wanted), sorted(set(got) - set(wanted)))
    every = [j for js in got.values() for j in js]
    report.ok("no job scheduled twice", len(every) == len(set(every)), sorted(j for j in set(every) if every.count(j) > 1))
    crons = maintain_crons()
    steps = {l["expression"]: flag_value(l["command"], "--only") for l in scheduled if l["command"][:1] == ["maintain"]}
    report.ok("compaction and checkpoint on [maintain] compact_schedule", steps.get(crons["compact_schedule"]) == "compact,checkpoint", steps)
    report.ok("vacuum on [maintain] vacuum_schedule", steps.get(crons["vacuum_schedule"]) == "vacuum", steps)
    report.note(f"{len(got)} job schedules cover {len(every)} jobs; maintain: {steps}")


def selected(command: list[str]) -> list[str]:
    """The jobs a `jobs run` command selects (`-s NAME`, `--select NAME`, `--select=NAME`)."""
    out = []
    for i, token in enumerate(command):
        if token in ("-s", "--select") and i + 1 < len(command):
            out.append(command[i + 1])
        elif token.startswith("--select="):
            out.append(token.split("=", 1)[1])
    return out


def job_schedules() -> dict[str, list[str]]:
    """EventBridge cron expression -> jobs with that schedule, from jobs/defs/*.toml."""
    out: dict[str, list[str]] = {}
    for path in sorted((ROOT / "jobs" / "defs").glob("*.toml")):
        job = tomllib.loads(path.read_text())
        if "schedule" in job:
            out.setdefault(eventbridge_cron(job["schedule"]), []).append(job.get("name", path.stem))
    return out


def eventbridge_cron(expr: str) -> str:
    """A five-field cron (minute hour day month weekday, UTC) as EventBridge Scheduler's cron()."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"cron `{expr}`: expected five fields")
    minute, hour, dom, month, dow = (re.sub(r"^\*/", "0/", f) for f in fields)
    if dow == "*":
        dow = "?"
    elif dom == "*":
        dom = "?"
        dow = re.sub(r"\d", lambda m: str(int(m.group()) % 7 + 1), dow)
    else:
        raise ValueError(f"cron `{expr}`: EventBridge cannot take both a day of month and a weekday")
    return f"cron({minute} {hour} {dom} {month} {dow} *)"


def maintain_crons() -> dict[str, str]:
    """The default crons of `[maintain]`, from lake/src/config.rs."""
    path = ROOT / "lake" / "src" / "config.rs"
    text = path.read_text()
    out = {}
    for key in ("compact_schedule", "vacuum_schedule"):
        m = re.search(rf'{key}: "([^"]+)"\.into\(\)', text)
        if not m:
            raise ValueError(f"{path.relative_to(ROOT)}: no default `{key}: \"...\".into()`")
        out[key] = eventbridge_cron(m.group(1))
    return out

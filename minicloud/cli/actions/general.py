"""The whole deployment: the tree, refresh from the clouds, reset and destroy."""

from __future__ import annotations

import dataclasses
import re
import time
from typing import Any

from ...model.errors import ValidationError
from ...render import FORMATS
from .. import pictures
from ..present import Result, plural, said, text
from .base import JSON, YES, Action, Arg, Context, Declined, Values, get, name_of


class Topology(Action):
    path = ("topology",)
    help = "print the deployment topology tree (or a picture of it)"
    menu = ("Cloud deployment topology", "Cloud topology", "Router topology",
            "Network topology", "Instance topology")
    args = (
        dataclasses.replace(JSON, exclusive="format", help="print JSON (as --format json)"),
        Arg("format", metavar="FORMAT", choices=FORMATS, exclusive="format",
            help="text (the tree, default), json, dot (Graphviz) or mermaid"),
        Arg("output", metavar="FILE",
            help="write to FILE instead; .svg and .png are drawn by Graphviz's dot, "
                 ".dot/.gv, .mmd/.mermaid, .json and .txt get the text"),
    )

    def run(self, ctx: Context, v: Values) -> Result:
        output = get(v, "output")
        chosen = pictures.chosen_format(get(v, "format"), bool(get(v, "json")), output)
        if output is None and chosen == "json":  # printed as every --json is
            return Result(data=ctx.app.topology.view())
        if output is None and chosen == "text" and not ctx.app.clouds.all():
            # How to begin, in this front end's words.
            return text(f"Nothing to show yet: add a cloud {ctx.adding_a_cloud}.\n")
        rendered = ctx.app.topology.render(chosen)
        if output is not None:
            return pictures.save(output, rendered)
        if chosen == "text":  # the menu's tree
            return text(rendered)
        return Result(output=rendered)


class Refresh(Action):
    path = ("refresh",)
    help = "re-read every cloud (or one)"
    menu = ("Refresh from clouds",)
    args = (Arg("cloud", metavar="C", help="only this cloud"),)

    def run(self, ctx: Context, v: Values) -> Result:
        app, cloud = ctx.app, name_of(v.cloud)
        count = 1 if cloud else len(app.clouds.all())
        if not count:
            return said("No clouds yet.")
        failures = app.sync.refresh(cloud)
        names = [cloud] if cloud else [c.name for c in app.clouds.all()]
        count = len(names)  # a cloud another session removed meanwhile was only said
        lines = []
        for name in names:
            if any(f.startswith(f"cloud {name}:") for f in failures):
                continue
            lines.append(_summary(app, name))
            drift = app.sync.last_drift(name)
            if drift is not None and drift.found:
                lines += drift_lines(name, [d.line() for d in drift.differences])
        lines.append(f"Refreshed {count - len(failures)} of {plural(count, 'cloud')}.")
        return Result(lines, errors=list(failures))


def drift_lines(cloud: str, changes: list[str], when: str = "") -> list[str]:
    """A cloud's changes made outside MiniCloud: a heading, then one indented line each."""
    head = f"{cloud}: {plural(len(changes), 'change')} made outside MiniCloud{when}:"
    return [head, *(f"  {line}" for line in changes)]


DRIFT, UNREADABLE = 3, 1
DURATION = re.compile(r"(\d+)([smhd]?)")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``2h`` or ``7d`` in seconds."""
    found = DURATION.fullmatch(text.strip())
    if found is None:
        raise ValidationError(f"invalid duration {text[:40]!r}: write e.g. 90s, 15m, 2h or 7d")
    return int(found.group(1)) * UNITS[found.group(2)]


class Drift(Action):
    path = ("drift",)
    help = ("say what changed in the clouds outside MiniCloud, changing nothing "
            "(exit 0 none, 3 found, 1 a cloud could not be read)")
    args = (
        Arg("cloud", metavar="C", help="only this cloud"),
        Arg("since", metavar="DURATION",
            help="also what the syncs of the last DURATION found (e.g. 15m, 2h, 7d)"),
        JSON,
    )

    def run(self, ctx: Context, v: Values) -> Result:
        since = seconds(v.since) if get(v, "since") else None
        found = ctx.app.sync.drift(name_of(v.cloud), since)
        lines: list[str] = []
        for result in found:
            if result.drift is not None:
                changes = [d.line() for d in result.drift.differences]
                lines += drift_lines(result.cloud, changes) if changes else \
                    [f"{result.cloud}: no change outside MiniCloud."]
            for record in result.recorded:
                changes = [_recorded_line(d) for d in record.differences]
                lines += drift_lines(result.cloud, changes, f" (seen by the sync of "
                                                            f"{_when(record.at)})")
        errors = [f"cloud {r.cloud} could not be read: {r.error}" for r in found if r.error]
        code = UNREADABLE if errors else DRIFT if any(r.found for r in found) else 0
        return Result(lines, errors=errors, data=_drift_data(found), code=code)


def _recorded_line(data: dict[str, Any]) -> str:
    from ...model.drift import Difference

    return Difference(data["kind"], data["name"], data["id"], data["change"], data["owned"],
                      tuple(data.get("details", ()))).line()


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))


def _drift_data(found: list[Any]) -> dict[str, Any]:
    return {"clouds": [{
        "cloud": r.cloud,
        "read": r.error is None,
        "error": r.error,
        "differences": r.drift.as_dict()["differences"] if r.drift else [],
        "recorded": [{"at": _when(rec.at), "differences": rec.differences}
                     for rec in r.recorded],
    } for r in found], "drift": any(r.found for r in found)}


def _summary(app: Any, cloud: str) -> str:
    """What a cloud holds now, in one line (the refresh's account of each cloud)."""
    counts = [plural(len(app.instances.all(cloud)), "instance"),
              plural(len(app.networks.all(cloud)), "network"),
              plural(len(app.routers.all(cloud)), "router"),
              plural(len(app.public_ips.public_ips(cloud)), "public IP")]
    return f"{cloud}: {', '.join(counts)}."


def report(done: Any, what: str) -> Result:
    """A reset's report: what was undone, one line each; what could not be, as errors."""
    undone = list(getattr(done, "undone", []))
    if undone:
        lines = [f"{what}: {plural(len(undone), 'change')} undone:"]
        lines += [f"  {line}" for line in undone]
    else:
        lines = [f"{what}: nothing to undo."]
    return Result(lines, errors=list(getattr(done, "failures", [])))


class Reset(Action):
    path = ("reset",)
    help = "undo everything MiniCloud did in every cloud (keeps clouds and clusters)"
    menu = ("Reset to startup",)
    args = (YES,)
    confirm = "always"

    def run(self, ctx: Context, v: Values) -> Result:
        ctx.confirm("Reset to startup: undo everything MiniCloud did in every cloud "
                    "(clouds and clusters are kept)?")
        result = report(ctx.app.resetter.reset(), "Reset")
        if not result.errors:
            result.lines.append("Reset done: the clouds are as when they were added.")
        return result


class Destroy(Action):
    path = ("destroy",)
    help = "reset, then forget every cloud and drop MiniCloud's data"
    menu = ("Destroy all data",)
    args = (YES,)
    confirm = "always"

    def run(self, ctx: Context, v: Values) -> Result:
        ctx.confirm("Destroy all data: reset every cloud, then forget every cloud and "
                    "cluster?")

        def agree(done: Any) -> bool:
            """Forget them all the same?  Asked, naming what stays in which cloud, when some
            cloud could not be reset (unreachable...)."""
            for line in done.failures:
                ctx.note(f"Reset failed: {line}")
            try:
                ctx.confirm(f"{_staying(done.left)}. Forget every cloud all the same, "
                            "leaving these where they are?")
            except Declined:
                return False
            return True

        done = ctx.app.resetter.destroy(agree)
        result = report(done, "Destroy")
        if done.forgot_anyway:
            # Its failures were said before the question; exit 1: something stays behind.
            result.errors, result.code = [], 1
            result.lines += _left_lines(done.left)
            result.lines.append("All data destroyed: the next start is a first start; what "
                                "is listed above stays in its cloud.")
        elif result.errors:
            result.errors.append("destroy stopped: the reset failed, so no cloud was forgotten"
                                 + (f" ({_staying(done.left)})" if done.left else ""))
        else:
            result.lines.append("All data destroyed: the next start is a first start.")
        return result


def _left_lines(left: dict[str, list[str]]) -> list[str]:
    return [f"left in cloud {cloud}: {', '.join(items)}" for cloud, items in left.items()]


def _staying(left: dict[str, list[str]]) -> str:
    """What a failed reset leaves of MiniCloud's, cloud by cloud, in one sentence."""
    return "What MiniCloud made stays " + "; ".join(
        f"in cloud {cloud}: {', '.join(items)}" for cloud, items in left.items())

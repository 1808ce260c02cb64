"""A deployment as a file: export it, plan a file against the store, apply a file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import pictures
from ..present import Result, plural, said
from .base import CLOUD_FILTER, JSON, YES, Action, Arg, Context, Values, get, name_of

if TYPE_CHECKING:
    from ...managers.deployments import ApplyReport

DRIFT, UNREADABLE = 3, 1

FILE = Arg("file", metavar="FILE", positional=True, required=True,
           help="the deployment file (YAML; see README.md and minicloud/deployment/schema.json)",
           prompt="Deployment file")
CLOUD_MAP = Arg("cloud_map", metavar="OLD=NEW", many=True,
                help="apply the file's cloud OLD to the cloud NEW (may be repeated): design on "
                     "a Stub cloud, apply to another; images and flavors are matched by name")
REFRESH = Arg("refresh", switch=True, help="read the file's clouds first")


class Export(Action):
    path = ("export",)
    help = "write the deployment MiniCloud manages as a file (what MiniCloud created only)"
    menu = ("Export the deployment",)
    args = (
        CLOUD_FILTER,
        Arg("output", metavar="FILE", help="write to FILE instead of stdout",
            prompt="Write it to file (empty: show it here)", optional=True),
    )

    def run(self, ctx: Context, v: Values) -> Result:
        text = ctx.app.deployments.export(name_of(get(v, "cloud")))
        output = get(v, "output")
        if output:
            written = pictures.write_whole(output, text.encode("utf-8"))
            if written.errors:
                return written
            return said(f"Deployment written to {output}.")
        return Result(text.splitlines(), output=text)


def _plan_data(plan: Any, unreadable: list[str]) -> dict[str, Any]:
    return {**plan.as_dict(), "changed": not plan.empty, "errors": unreadable}


class PlanFile(Action):
    path = ("plan",)
    help = ("say what 'apply FILE' would change (exit 0 nothing, 3 changes, 1 a cloud could "
            "not be read, 2 a mistake in the file)")
    args = (FILE, CLOUD_MAP, REFRESH, JSON)

    def run(self, ctx: Context, v: Values) -> Result:
        deployments = ctx.app.deployments
        spec = deployments.read(v.file, get(v, "cloud_map"))
        found = deployments.plan(spec, refresh=bool(get(v, "refresh")))
        plan = found.plan
        code = UNREADABLE if found.unreadable else DRIFT if not plan.empty else 0
        return Result([*plan.lines(), plan.summary()], errors=list(found.unreadable),
                      data=_plan_data(plan, found.unreadable), code=code)


def applied(report: ApplyReport) -> Result:
    """What an apply did: one line per change done, then what failed and was not done."""
    if not report.planned and not report.failed:
        return said("No changes: the clouds are as the file says (another session made them "
                    "meanwhile).")
    lines = [f"done: {line}" for line in report.done]
    errors = []
    if report.failed:
        errors.append(f"failed: {report.failed}")
        errors += [f"not done: {line}" for line in report.not_done]
    else:
        lines.append(f"Apply complete: {plural(len(report.done), 'change')} made.")
    return Result(lines, errors=errors)


class ApplyFile(Action):
    path = ("apply",)
    help = ("make the clouds what FILE says: show the plan, ask (unless --yes), then make each "
            "change through MiniCloud's usual checks")
    menu = ("Apply a deployment file",)
    args = (FILE, CLOUD_MAP, REFRESH, YES)
    confirm = "always"

    def run(self, ctx: Context, v: Values) -> Result:
        deployments = ctx.app.deployments
        spec = deployments.read(v.file, get(v, "cloud_map"))
        found = deployments.plan(spec, refresh=bool(get(v, "refresh")), settle=True)
        if found.unreadable:
            return Result(errors=[*found.unreadable, "nothing was applied"])
        plan = found.plan
        if plan.empty:
            return said(plan.summary())
        for line in [*plan.lines(), plan.summary()]:
            ctx.note(line)
        ctx.confirm(f"Apply these {plural(len(plan.changes), 'change')}?")
        return applied(deployments.apply(spec, shown=plan, say=ctx.note))

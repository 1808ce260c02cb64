"""Clouds: list, add (with the settings of its type), update, remove; images and flavors."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ...model.errors import ConfigError
from ...model.validation import check_location
from .. import present
from ..present import Result, said, table
from .base import (
    CLOUD,
    JSON,
    NO_CLOUDS,
    YES,
    Action,
    Arg,
    Context,
    Values,
    chosen,
    clouds,
    get,
    name_of,
    new_name,
)

if TYPE_CHECKING:
    from ...app import MiniCloud

BY_HAND = "Enter the details by hand"


class CloudsList(Action):
    path = ("clouds", "list")
    help = "list the clouds"
    menu = ("List clouds",)
    args = (JSON,)

    def run(self, ctx: Context, v: Values) -> Result:
        from ...render.views import Views

        views = Views(ctx.app.topology.deployment())
        # The JSON also says each cloud's settings as they were given (never a secret: those
        # are not stored), e.g. where a Stub cloud's state lives (empty: with the store).
        rows = [dict(views.cloud(c), settings=dict(c.settings)) for c in ctx.app.clouds.all()]
        now = time.time()
        shown = [dict(row, clusters=[c["name"] for c in row["clusters"]],
                      instances=len(row["instances"])
                      + sum(len(c["instances"]) for c in row["clusters"]),
                      synced=present.synced(row["synced_at"], row["drift"], now))
                 for row in rows]
        return table(rows, present.CLOUD_COLUMNS, "No clouds yet.", shown)


# -- a cloud type's settings, as arguments -----------------------------------------------------


def _choices(setting: Any) -> list[str]:
    try:
        return [str(c) for c in setting.choices() or []]
    except Exception:  # noqa: BLE001 - unreadable choices just mean: ask by hand
        return []


def setting_arg(setting: Any, type_name: str) -> Arg:
    """One setting of a cloud type as an argument.  A secret has no flag: it comes from its
    variable or, in the menu, with no echo."""
    words = setting.help or setting.prompt
    default = f" (default {setting.default})" if setting.default and \
        "default" not in words else ""
    env = setting.env
    return Arg(
        setting.name,
        help=f"{type_name}: {words}{default}",
        metavar=setting.name.rsplit("_", 1)[-1].upper(),
        flag=setting.flag,
        env=env if setting.secret else None,
        prompt=setting.prompt,
        pick=(lambda app, v: _choices(setting)) if setting.choices is not None else None,
        other=BY_HAND if setting.choices is not None else None,
        # The manager's check of the value, the one add runs again (a URL's password
        # refused too): every setting of every type has one.
        check=lambda app, v, text: app.clouds.check_setting(type_name, setting.name, text),
        default=setting.default or None,
        optional=setting.optional,
        secret=setting.secret,
        alone=setting.alone,
    )


def settings_args(app: MiniCloud | None, v: Values | None) -> tuple[Arg, ...]:
    """The chosen type's settings; with no values, those of every type (for the flags).
    Read from the catalog: the parser needs them before any store is opened."""
    # The drivers' declarations, through the managers: only for the command that needs them.
    from ...managers import catalog

    if v is not None:
        type_name = name_of(get(v, "type"))
        if not type_name:
            return ()
        return tuple(setting_arg(s, type_name) for s in catalog.settings_for(type_name))
    merged: dict[str, Arg] = {}
    for type_name in catalog.types():
        try:
            settings = catalog.settings_for(type_name)
        except ConfigError:  # a type whose driver cannot load here offers no flags
            continue
        for setting in settings:
            arg = setting_arg(setting, type_name)
            if setting.name in merged:
                first = merged[setting.name]
                arg = dataclasses.replace(first, help=first.help.replace(":", f", {type_name}:", 1))
            merged[setting.name] = arg
    return tuple(merged.values())


def _types(app: MiniCloud, v: Values) -> Sequence[str]:
    return app.clouds.types()


def _type_arg() -> Arg:
    """``--type``, naming the types there are: read from the catalog when the command's
    parser or the menu's question is built (help of other commands does not load it)."""
    from ...managers import catalog

    types = tuple(catalog.types())
    return Arg("type", metavar="TYPE", required=True, choices=types,
               help=f"the cloud type: {', '.join(types[:-1])} or {types[-1]}",
               prompt="Cloud type", pick=_types,
               default=lambda app, v: "stub" if "stub" in app.clouds.types() else None)


def _location_check(app: MiniCloud, v: Values, text: str) -> str:
    """The rule add and update apply, at the question."""
    return check_location(text)


class CloudsAdd(Action):
    path = ("clouds", "add")
    help = ("add a cloud (a secret such as a password never goes on the command line: it "
            "comes from its type's variable, e.g. OS_PASSWORD, or configuration file)")
    menu = ("Add a cloud",)
    retry = True
    needs_cloud = False  # not MiniCloud's yet
    args = (
        new_name("cloud", lambda app, v, text: app.clouds.check_new_name(text)),
        Arg("type", expand=lambda app, v: (_type_arg(),)),
        Arg("location", metavar="LOC", help="where the cloud is (shown in the tree)",
            prompt="Location (e.g. a region or host)", optional=True, check=_location_check),
        Arg("settings", expand=settings_args),
    )

    def run(self, ctx: Context, v: Values) -> Result:
        app = ctx.app
        type_name = name_of(v.type) or ""
        # Every type's settings: one given for another type is refused by the manager.
        declared = settings_args(app, None)
        settings = {a.name: get(v, a.name) for a in declared
                    if not a.secret and get(v, a.name) is not None}
        # The chosen type's own secret (another type's variable, e.g. OS_PASSWORD, is not it).
        secret = next((get(v, a.name) for a in settings_args(app, v)
                       if a.secret and get(v, a.name)), None)
        cloud = app.clouds.add(v.name, type_name, v.location or "", settings, secret)
        return said(f"Cloud {cloud.name} added ({cloud.type}).")


def _location(app: MiniCloud, v: Values) -> str:
    return str(app.clouds.get(name_of(v.name) or "").location)


class CloudsUpdate(Action):
    path = ("clouds", "update")
    help = "change where a cloud is"
    menu = ("Update a cloud",)
    args = (
        chosen("cloud", clouds, NO_CLOUDS, present.describe_cloud),
        Arg("location", metavar="LOC", required=True, help="where the cloud is",
            prompt="Location", default=_location, check=_location_check),
    )

    def run(self, ctx: Context, v: Values) -> Result:
        name, location = name_of(v.name) or "", v.location or ""
        if ctx.app.clouds.get(name).location == location:
            return said(f"Cloud {name}: location unchanged ({location or '-'}).")
        cloud = ctx.app.clouds.update(name, location)
        return said(f"Cloud {cloud.name}: location is now {cloud.location or '-'}.")


class CloudsRemove(Action):
    path = ("clouds", "remove")
    help = "forget a cloud (its resources stay in the cloud: Reset is what deletes them)"
    menu = ("Remove a cloud",)
    args = (chosen("cloud", clouds, NO_CLOUDS, present.describe_cloud), YES)
    confirm = "always"
    needs_cloud = False  # forgetting a cloud never needs it: no secret, no request

    def run(self, ctx: Context, v: Values) -> Result:
        name = ctx.app.clouds.get(name_of(v.name) or "").name
        ctx.confirm(f"Remove cloud {name} from MiniCloud?")
        done = ctx.app.clouds.remove(name)
        return said(done[:1].upper() + done[1:] + ".")


class ImagesList(Action):
    path = ("images", "list")
    help = "list a cloud's images"
    menu = ("List images",)
    args = (CLOUD, JSON)

    def run(self, ctx: Context, v: Values) -> Result:
        from ...render.views import image_view

        cloud = name_of(v.cloud) or ""
        rows = [image_view(i) for i in ctx.app.clouds.images(cloud)]
        return table(rows, present.IMAGE_COLUMNS, f"Cloud {cloud} has no images.")


class FlavorsList(Action):
    path = ("flavors", "list")
    help = "list a cloud's flavors"
    menu = ("List flavors",)
    args = (CLOUD, JSON)

    def run(self, ctx: Context, v: Values) -> Result:
        from ...render.views import flavor_view

        cloud = name_of(v.cloud) or ""
        rows = [flavor_view(f) for f in ctx.app.clouds.flavors(cloud)]
        return table(rows, present.FLAVOR_COLUMNS, f"Cloud {cloud} has no flavors.")


ACTIONS: tuple[Action, ...] = (CloudsList(), CloudsAdd(), CloudsUpdate(), CloudsRemove())
CATALOGUES: tuple[Action, ...] = (ImagesList(), FlavorsList())

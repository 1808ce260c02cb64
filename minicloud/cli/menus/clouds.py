"""[ Clouds ]: clouds, clusters, images, flavors, refresh."""

from __future__ import annotations

import os
from typing import Any

from ...errors import ConfigError, CredentialsNeeded
from ...managers.base import check_name
from .common import Session, named, pick_cloud, run_submenu, show_topology

# The openstack Setting that names a clouds.yaml entry, when the driver has one.


def run(session: Session) -> None:
    run_submenu(session, "Clouds", [
        ("Cloud topology", show_topology),
        ("List clouds", list_clouds),
        ("Add a cloud", add_cloud),
        ("Update a cloud", update_cloud),
        ("Remove a cloud", remove_cloud),
        ("Add a cluster", add_cluster),
        ("Remove a cluster", remove_cluster),
        ("List images", list_images),
        ("List flavors", list_flavors),
        ("Refresh from clouds", refresh),
        ("Back", None),
    ])


def list_clouds(session: Session) -> None:
    app, p = session.app, session.p
    clouds = app.clouds.all()
    if not clouds:
        p.say("No clouds yet.")
        return
    for cloud in clouds:
        clusters = [c.name for c in app.clouds.clusters(cloud.name)]
        state = "" if cloud.reachable else ", unreachable"
        p.say(f"{cloud.name}: type {cloud.type}, location {cloud.location or '-'}{state}; "
              f"clusters: {', '.join(clusters) or 'none'}")


def _choices(setting: Any) -> list[str]:
    try:
        return [str(c) for c in setting.choices() or []] if setting.choices else []
    except Exception:  # noqa: BLE001 - unreadable choices just mean: ask by hand
        return []


def _ask_settings(session: Session, type_name: str) -> tuple[dict[str, str], str | None]:
    """The driver's settings (and a password kept only in memory) for a new cloud."""
    from ...drivers import driver_class

    p = session.p
    settings: dict[str, str] = {}
    password: str | None = None
    try:
        declared = list(driver_class(type_name).settings)
    except ImportError as err:
        raise ConfigError(f"cloud type {type_name} is not available here: {err}") from None
    for setting in declared:
        if setting.choices is not None:
            by_hand = "Enter the details by hand"
            choices = _choices(setting)
            if choices:
                value = p.pick(setting.prompt, [*choices, by_hand])
                if value != by_hand:
                    settings[setting.name] = value
                    if setting.alone:
                        return settings, None
            continue
        if setting.secret:
            if os.environ.get("OS_PASSWORD"):
                p.say(f"{setting.prompt}: taken from OS_PASSWORD.")
                continue
            password = p.secret(setting.prompt)
        else:
            default = setting.default or ("" if setting.optional else None)
            settings[setting.name] = p.ask(setting.prompt, default=default,
                                           validate=setting.check)
    return settings, password


def add_cloud(session: Session) -> None:
    app, p = session.app, session.p
    name = p.ask("Cloud name", validate=lambda n: check_name(n, "cloud name"))
    types = app.clouds.types()
    type_name = p.pick("Cloud type", types, default="stub" if "stub" in types else None)
    location = p.ask("Location (e.g. a region or host)", default="")
    settings, password = _ask_settings(session, type_name)
    try:
        cloud = app.clouds.add(name, type_name, location, settings, password)
    except CredentialsNeeded:
        # The clouds.yaml entry holds no password and OS_PASSWORD is unset: ask once.
        password = p.secret("Password (kept for this session only)")
        cloud = app.clouds.add(name, type_name, location, settings, password)
    p.say(f"Cloud {cloud.name} added ({cloud.type}).")


def update_cloud(session: Session) -> None:
    app, p = session.app, session.p
    name = pick_cloud(session)
    location = p.ask("Location", default=app.clouds.get(name).location)
    cloud = app.clouds.update(name, location)
    p.say(f"Cloud {cloud.name}: location is now {cloud.location or '-'}.")


def remove_cloud(session: Session) -> None:
    app, p = session.app, session.p
    name = pick_cloud(session)
    if not p.confirm(f"Remove cloud {name} from MiniCloud?"):
        p.say("Nothing changed.")
        return
    said = app.clouds.remove(name)
    p.say(said[:1].upper() + said[1:] + ".")


def add_cluster(session: Session) -> None:
    app, p = session.app, session.p
    cloud = pick_cloud(session)
    name = p.ask("Cluster name", validate=lambda n: check_name(n, "cluster name"))
    cluster = app.clouds.add_cluster(cloud, name)
    p.say(f"Cluster {cluster.name} added to cloud {cloud}.")


def remove_cluster(session: Session) -> None:
    app, p = session.app, session.p
    cluster: Any = p.pick("Cluster", app.clouds.clusters(), lambda c: named(session, c),
                          empty="No clusters yet.")
    app.clouds.remove_cluster(cluster.cloud, cluster.name)
    p.say(f"Cluster {cluster.name} removed from cloud {cluster.cloud}.")


def list_images(session: Session) -> None:
    app, p = session.app, session.p
    cloud = pick_cloud(session)
    images = app.clouds.images(cloud)
    if not images:
        p.say(f"Cloud {cloud} has no images.")
    for image in images:
        p.say(image.name)


def list_flavors(session: Session) -> None:
    app, p = session.app, session.p
    cloud = pick_cloud(session)
    flavors = app.clouds.flavors(cloud)
    if not flavors:
        p.say(f"Cloud {cloud} has no flavors.")
    for flavor in flavors:
        p.say(f"{flavor.name}: {flavor.vcpus} vCPU, {flavor.ram} MB RAM, {flavor.disk} GB disk")


def refresh(session: Session) -> None:
    app, p = session.app, session.p
    count = len(app.clouds.all())
    if not count:
        p.say("No clouds yet.")
        return
    failures = app.clouds.refresh()
    for failure in failures:
        p.say(f"Error: {failure}")
    fresh = count - len(failures)
    p.say(f"Refreshed {fresh} of {count} cloud{'s' if count != 1 else ''}.")

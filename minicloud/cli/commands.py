"""One-shot commands over the same managers as the menu.

Each command is a small function that resolves its arguments, calls one manager method and
prints the result.  The rules (names, CIDRs, what may be removed...) live in the managers;
argparse only parses.  Exit codes: 0 success; 1 the operation failed; 2 bad usage, an unknown
or ambiguous name, or a request the managers refuse as invalid.  Errors are one line on stderr
(``minicloud: <text>``), never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..app import MiniCloud
from ..errors import (
    AmbiguousError,
    ConfigError,
    CredentialsNeeded,
    MiniCloudError,
    NotFoundError,
    ValidationError,
)
from ..topology import render_text
from ..views import Views, flavor_view, image_view, security_group_view

log = logging.getLogger("minicloud")

OK, FAILED, USAGE = 0, 1, 2
# Errors that mean "the request was wrong", not "the operation failed".
# A missing password is a configuration matter too: set OS_PASSWORD.
USAGE_ERRORS = (NotFoundError, AmbiguousError, ValidationError, ConfigError, CredentialsNeeded)

Handler = Callable[[MiniCloud, argparse.Namespace], int]


class UsageError(Exception):
    """Bad usage: printed as ``minicloud: <text>`` (argparse's errors as argparse words them)."""

    def __init__(self, text: str, raw: bool = False):
        super().__init__(text)
        self.raw = raw


class _Parser(argparse.ArgumentParser):
    """Raises instead of exiting, so that the exit code stays run_command's."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{self.format_usage().rstrip()}\n{self.prog}: error: {message}",
                         raw=True)


# --- output helpers ------------------------------------------------------------------------


def _say(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    print(f"minicloud: {text}", file=sys.stderr)


def _json(data: Any) -> int:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return OK


def _cell(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]], empty: str) -> int:
    """Print ``rows`` as aligned columns (``(HEADER, key)`` pairs), or ``empty``."""
    if not rows:
        _say(empty)
        return OK
    cells = [[header for header, _ in columns]]
    cells += [[_cell(row.get(key)) for _, key in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    for line in cells:
        _say("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    return OK


def _listing(args: argparse.Namespace, rows: list[dict[str, Any]],
             columns: list[tuple[str, str]], empty: str) -> int:
    return _json(rows) if args.json else _table(rows, columns, empty)


def _views(app: MiniCloud) -> Views:
    return Views(app.inventory.ensure_loaded().deployment())


def _confirm(args: argparse.Namespace, question: str) -> bool:
    """``--yes``, or ``y`` at a ``[y/N]`` prompt on a terminal; no terminal is bad usage."""
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(f"{question.rstrip('?')}: confirm with --yes (no terminal to ask on)")
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("y", "yes")


# --- topology and refresh ------------------------------------------------------------------


def cmd_topology(app: MiniCloud, args: argparse.Namespace) -> int:
    if args.json:
        return _json(_views(app).topology())
    sys.stdout.write(render_text(app.inventory.ensure_loaded().deployment()))
    return OK


def cmd_refresh(app: MiniCloud, args: argparse.Namespace) -> int:
    failures = app.clouds.refresh(args.cloud)
    for line in failures:
        _err(line)
    return FAILED if failures else OK


# --- clouds and clusters -------------------------------------------------------------------

CLOUD_COLUMNS = [("NAME", "name"), ("TYPE", "type"), ("LOCATION", "location"),
                 ("REACHABLE", "reachable"), ("CLUSTERS", "clusters"),
                 ("INSTANCES", "instances")]


def cmd_clouds_list(app: MiniCloud, args: argparse.Namespace) -> int:
    views = _views(app)
    rows = [views.cloud(c) for c in app.clouds.all()]
    if args.json:
        return _json(rows)
    shown = [dict(row, clusters=[c["name"] for c in row["clusters"]],
                  instances=len(row["instances"])
                  + sum(len(c["instances"]) for c in row["clusters"])) for row in rows]
    return _table(shown, CLOUD_COLUMNS, "No clouds yet: add one with 'minicloud clouds add'.")


def cmd_clouds_add(app: MiniCloud, args: argparse.Namespace) -> int:
    options = {"external_network": args.external_network, "external_cidr": args.external_cidr,
               "external_subnet": args.external_subnet, "os_cloud": args.os_cloud}
    settings = {key: value for key, value in options.items() if value is not None}
    try:
        cloud = app.clouds.add(args.name, args.type, args.location or "", settings,
                               password=os.environ.get("OS_PASSWORD") or None)
    except ImportError as err:
        _err(f"cloud type {args.type} is not available here: {err}")
        return FAILED
    _say(f"Added cloud {cloud.name} ({cloud.type}).")
    return OK


def cmd_clouds_remove(app: MiniCloud, args: argparse.Namespace) -> int:
    cloud = app.clouds.get(args.name)
    if not _confirm(args, f"Forget cloud {cloud.name}?"):
        _err("cancelled")
        return FAILED
    _say(app.clouds.remove(cloud.name) + ".")
    return OK


def cmd_clusters_list(app: MiniCloud, args: argparse.Namespace) -> int:
    views = _views(app)
    rows = [views.cluster(c) for c in app.clouds.clusters(args.cloud)]
    if args.json:
        return _json(rows)
    shown = [dict(row, instances=[i["name"] for i in row["instances"]]) for row in rows]
    return _table(shown, [("NAME", "name"), ("CLOUD", "cloud"), ("INSTANCES", "instances")],
                  "No clusters.")


def cmd_clusters_add(app: MiniCloud, args: argparse.Namespace) -> int:
    cluster = app.clouds.add_cluster(args.cloud, args.name)
    _say(f"Added cluster {cluster.name} to cloud {cluster.cloud}.")
    return OK


def cmd_clusters_remove(app: MiniCloud, args: argparse.Namespace) -> int:
    cluster = app.clouds.find("cluster", args.name, args.cloud)
    app.clouds.remove_cluster(cluster.cloud, cluster.name)
    _say(f"Removed cluster {cluster.name} from cloud {cluster.cloud}.")
    return OK


def cmd_images_list(app: MiniCloud, args: argparse.Namespace) -> int:
    rows = [image_view(i) for i in app.clouds.images(args.cloud)]
    return _listing(args, rows, [("NAME", "name"), ("CLOUD", "cloud"), ("ID", "id")],
                    "No images.")


def cmd_flavors_list(app: MiniCloud, args: argparse.Namespace) -> int:
    rows = [flavor_view(f) for f in app.clouds.flavors(args.cloud)]
    return _listing(args, rows, [("NAME", "name"), ("VCPUS", "vcpus"), ("RAM_MB", "ram"),
                                 ("DISK_GB", "disk"), ("CLOUD", "cloud")], "No flavors.")


# --- routers -------------------------------------------------------------------------------


def cmd_routers_list(app: MiniCloud, args: argparse.Namespace) -> int:
    views = _views(app)
    rows = [views.router(r) for r in app.routers.all(args.cloud)]
    return _listing(args, rows, [("NAME", "name"), ("CLOUD", "cloud"), ("GATEWAY", "gateway"),
                                 ("NETWORKS", "networks"), ("OWNED", "owned")], "No routers.")


def cmd_routers_create(app: MiniCloud, args: argparse.Namespace) -> int:
    router = app.routers.create(args.cloud, args.name, gateway=args.gateway)
    _say(f"Created router {router.name} in cloud {router.cloud}.")
    return OK


def cmd_routers_attach(app: MiniCloud, args: argparse.Namespace) -> int:
    router = app.routers.find("router", args.router, args.cloud)
    network = app.networks.find("network", args.network, router.cloud)
    app.networks.attach(network, router)
    _say(f"Attached network {network.name} to router {router.name}.")
    return OK


def cmd_routers_detach(app: MiniCloud, args: argparse.Namespace) -> int:
    router = app.routers.find("router", args.router, args.cloud)
    network = app.networks.find("network", args.network, router.cloud)
    app.networks.detach(network, router)
    _say(f"Detached network {network.name} from router {router.name}.")
    return OK


def cmd_routers_gateway(app: MiniCloud, args: argparse.Namespace) -> int:
    if (args.network is None) == (not args.clear):
        raise UsageError("routers gateway: give either NETWORK or --clear")
    router = app.routers.find("router", args.router, args.cloud)
    if args.clear:
        app.routers.clear_gateway(router)
        _say(f"Cleared the gateway of router {router.name}.")
    else:
        app.routers.set_gateway(router, args.network)
        _say(f"Set the gateway of router {router.name} to {args.network}.")
    return OK


def cmd_routers_remove(app: MiniCloud, args: argparse.Namespace) -> int:
    router = app.routers.find("router", args.name, args.cloud)
    app.routers.remove(router)
    _say(f"Removed router {router.name} from cloud {router.cloud}.")
    return OK


# --- networks and public IPs ---------------------------------------------------------------


def cmd_networks_list(app: MiniCloud, args: argparse.Namespace) -> int:
    views = _views(app)
    rows = [views.network(n) for n in app.networks.all(args.cloud)]
    return _listing(args, rows, [("NAME", "name"), ("CLOUD", "cloud"), ("CIDRS", "cidrs"),
                                 ("EXTERNAL", "external"), ("ROUTERS", "routers"),
                                 ("INSTANCES", "instances"), ("OWNED", "owned")],
                    "No networks.")


def cmd_networks_create(app: MiniCloud, args: argparse.Namespace) -> int:
    network = app.networks.create(args.cloud, args.name, args.cidr, router=args.router)
    _say(f"Created network {network.name} [{', '.join(network.cidrs)}] in cloud "
         f"{network.cloud}.")
    return OK


def cmd_networks_remove(app: MiniCloud, args: argparse.Namespace) -> int:
    network = app.networks.find("network", args.name, args.cloud)
    app.networks.remove(network)
    _say(f"Removed network {network.name} from cloud {network.cloud}.")
    return OK


def cmd_public_ips_list(app: MiniCloud, args: argparse.Namespace) -> int:
    views = _views(app)
    rows = [views.public_ip_view(f) for f in app.networks.public_ips(args.cloud)]
    return _listing(args, rows, [("ADDRESS", "address"), ("CLOUD", "cloud"),
                                 ("NETWORK", "network"), ("INSTANCE", "instance"),
                                 ("OWNED", "owned")], "No public IPs.")


def cmd_public_ips_release(app: MiniCloud, args: argparse.Namespace) -> int:
    fip = app.networks.find_public_ip(args.address, args.cloud)
    app.networks.release(fip)
    _say(f"Released public IP {fip.name} in cloud {fip.cloud}.")
    return OK


# --- instances and security groups ---------------------------------------------------------

INSTANCE_COLUMNS = [("NAME", "name"), ("CLOUD", "cloud"), ("CLUSTER", "cluster"),
                    ("STATUS", "status"), ("PRIVATE_IP", "private_ip"), ("NETWORK", "network"),
                    ("PUBLIC_IP", "public_ip"), ("GROUPS", "security_groups"),
                    ("IMAGE", "image"), ("FLAVOR", "flavor")]


def cmd_instances_list(app: MiniCloud, args: argparse.Namespace) -> int:
    views = _views(app)
    rows = [views.instance(i) for i in app.instances.all(args.cloud)]
    return _listing(args, rows, INSTANCE_COLUMNS, "No instances.")


def cmd_instances_create(app: MiniCloud, args: argparse.Namespace) -> int:
    extra = {"security_group": args.security_group} if args.security_group else {}
    inst = app.instances.create(args.cloud, args.name, args.image, args.flavor, args.network,
                                cluster=args.cluster, fixed_ip=args.fixed_ip, **extra)
    _say(f"Created instance {inst.name} [{inst.private_ip or '-'}] in cloud {inst.cloud} "
         f"({inst.status}).")
    return OK


def cmd_instances_show(app: MiniCloud, args: argparse.Namespace) -> int:
    inst = app.instances.find("instance", args.name, args.cloud)
    row = _views(app).instance(inst)
    if args.json:
        return _json(row)
    width = max(len(key) for key in row)
    for key, value in row.items():
        _say(f"{key.replace('_', ' ').ljust(width)}  {_cell(value)}")
    return OK


def _power(action: str) -> Handler:
    def command(app: MiniCloud, args: argparse.Namespace) -> int:
        inst = app.instances.find("instance", args.name, args.cloud)
        done = getattr(app.instances, action)(inst)
        _say(f"Instance {done.name}: {done.status}.")
        return OK

    command.__name__ = f"cmd_instances_{action}"
    return command


def cmd_instances_remove(app: MiniCloud, args: argparse.Namespace) -> int:
    inst = app.instances.find("instance", args.name, args.cloud)
    app.instances.remove(inst)
    _say(f"Removed instance {inst.name} from cloud {inst.cloud}.")
    return OK


def cmd_instances_connect(app: MiniCloud, args: argparse.Namespace) -> int:
    inst = app.instances.find("instance", args.name, args.cloud)
    plan = app.instances.connect(inst, user=args.user, address=args.public_ip)
    shown = shlex.join(plan.command)
    if not plan.runnable:
        # A Stub cloud has no host to reach: say what would run.
        _say(shown)
        return OK
    print(f"Connecting: {shown}", file=sys.stderr)
    sys.stdout.flush()
    try:
        return subprocess.call(plan.command)
    except OSError as err:
        _err(f"cannot run {plan.command[0]}: {err.strerror or err}")
        return FAILED


def cmd_security_groups_list(app: MiniCloud, args: argparse.Namespace) -> int:
    if args.cloud is not None:
        app.clouds.get(args.cloud)
    # No manager lists security groups yet: read the cache the managers share.
    groups = sorted(app.instances.cache.all("security_group", args.cloud),
                    key=lambda g: (g.name, g.cloud))
    rows = [security_group_view(g) for g in groups]
    if args.json:
        return _json(rows)
    shown = [dict(row, rules=len(row["rules"]), ssh=g.allows_ssh())
             for row, g in zip(rows, groups, strict=True)]
    return _table(shown, [("NAME", "name"), ("CLOUD", "cloud"), ("RULES", "rules"),
                          ("SSH", "ssh"), ("OWNED", "owned")], "No security groups.")


# --- reset and destroy ---------------------------------------------------------------------


def _report(report: Any, done: str) -> int:
    for line in report.undone:
        _say(line[:1].upper() + line[1:] + ".")
    for line in report.failures:
        _err(line)
    if report.failures:
        return FAILED
    _say(done)
    return OK


def cmd_reset(app: MiniCloud, args: argparse.Namespace) -> int:
    if not _confirm(args, "Undo everything MiniCloud did in every cloud?"):
        _err("cancelled")
        return FAILED
    return _report(app.clouds.reset(), "Reset done: the clouds are as when they were added.")


def cmd_destroy(app: MiniCloud, args: argparse.Namespace) -> int:
    if not _confirm(args, "Reset, then forget every cloud and drop MiniCloud's data?"):
        _err("cancelled")
        return FAILED
    return _report(app.clouds.destroy(), "All MiniCloud data destroyed.")


# --- the parser ----------------------------------------------------------------------------


def _command(sub: Any, name: str, handler: Handler, text: str) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=text, description=text)
    parser.set_defaults(handler=handler)
    return parser


def _group(sub: Any, name: str, text: str) -> Any:
    parser = sub.add_parser(name, help=text, description=text)
    inner = parser.add_subparsers(title="commands", metavar="COMMAND", dest=f"{name}_command",
                                  parser_class=_Parser)
    inner.required = True
    return inner


def _cloud(parser: argparse.ArgumentParser, required: bool = False) -> None:
    if required:
        parser.add_argument("--cloud", required=True, metavar="C", help="the cloud")
    else:
        parser.add_argument("--cloud", metavar="C",
                            help="the cloud (may be left out when the name is unambiguous)")


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON (see README.md)")


def _yes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", action="store_true",
                        help="do not ask (needed when there is no terminal)")


def build_parser(types: Sequence[str] = ("openstack", "stub")) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="minicloud",
        description="One-shot commands (the interactive menu offers the same operations). "
                    "Exit codes: 0 done, 1 the operation failed, 2 bad usage or unknown name.",
        epilog="Global options go before COMMAND: minicloud [--config PATH] [--debug] "
               "[--demo] COMMAND ...; 'minicloud help COMMAND' shows a command's options.",
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", dest="command",
                                parser_class=_Parser)
    sub.required = True

    p = _command(sub, "help", cmd_help, "show the help of minicloud or of a command")
    p.add_argument("topic", nargs="*", metavar="COMMAND", help="e.g. 'instances create'")

    p = _command(sub, "topology", cmd_topology, "print the deployment topology tree")
    _json_flag(p)
    p = _command(sub, "refresh", cmd_refresh, "re-read every cloud (or one)")
    _cloud(p)

    # clouds
    g = _group(sub, "clouds", "add, list and remove clouds")
    p = _command(g, "list", cmd_clouds_list, "list the clouds")
    _json_flag(p)
    p = _command(g, "add", cmd_clouds_add, "add a cloud (the password of an OpenStack cloud "
                 "comes from OS_PASSWORD or clouds.yaml)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--type", required=True, metavar="TYPE", help=f"one of {', '.join(types)}")
    p.add_argument("--location", metavar="LOC", help="where the cloud is (shown in the tree)")
    p.add_argument("--os-cloud", metavar="ENTRY", help="openstack: the clouds.yaml entry")
    p.add_argument("--external-network", metavar="NAME",
                   help="stub: name of its external network (default public)")
    p.add_argument("--external-cidr", metavar="CIDR",
                   help="stub: CIDR of its external network (default 203.0.113.0/24)")
    p.add_argument("--external-subnet", metavar="NAME",
                   help="stub: name of the external network's subnet")
    p = _command(g, "remove", cmd_clouds_remove,
                 "forget a cloud (an OpenStack cloud's resources stay in the cloud)")
    p.add_argument("name", metavar="NAME")
    _yes(p)

    # clusters, images, flavors
    g = _group(sub, "clusters", "add, list and remove clusters")
    p = _command(g, "list", cmd_clusters_list, "list the clusters")
    _cloud(p)
    _json_flag(p)
    p = _command(g, "add", cmd_clusters_add, "add a cluster to a cloud")
    p.add_argument("name", metavar="NAME")
    _cloud(p, required=True)
    p = _command(g, "remove", cmd_clusters_remove, "remove an empty cluster")
    p.add_argument("name", metavar="NAME")
    _cloud(p)
    g = _group(sub, "images", "list a cloud's images")
    p = _command(g, "list", cmd_images_list, "list a cloud's images")
    _cloud(p, required=True)
    _json_flag(p)
    g = _group(sub, "flavors", "list a cloud's flavors")
    p = _command(g, "list", cmd_flavors_list, "list a cloud's flavors")
    _cloud(p, required=True)
    _json_flag(p)

    # routers
    g = _group(sub, "routers", "create, change and remove routers")
    p = _command(g, "list", cmd_routers_list, "list the routers")
    _cloud(p)
    _json_flag(p)
    p = _command(g, "create", cmd_routers_create, "create a router")
    p.add_argument("name", metavar="NAME")
    _cloud(p, required=True)
    p.add_argument("--gateway", metavar="NET", help="its external gateway network")
    for name, handler, text in (("attach", cmd_routers_attach, "attach a network to a router"),
                                ("detach", cmd_routers_detach,
                                 "detach a network from a router")):
        p = _command(g, name, handler, text)
        p.add_argument("router", metavar="ROUTER")
        p.add_argument("network", metavar="NETWORK")
        _cloud(p)
    p = _command(g, "gateway", cmd_routers_gateway,
                 "set a router's external gateway (NETWORK) or clear it (--clear)")
    p.add_argument("router", metavar="ROUTER")
    p.add_argument("network", metavar="NETWORK", nargs="?", help="an external network")
    p.add_argument("--clear", action="store_true", help="clear the gateway")
    _cloud(p)
    p = _command(g, "remove", cmd_routers_remove, "remove a router MiniCloud created")
    p.add_argument("name", metavar="NAME")
    _cloud(p)

    # networks and public IPs
    g = _group(sub, "networks", "create and remove networks")
    p = _command(g, "list", cmd_networks_list, "list the networks")
    _cloud(p)
    _json_flag(p)
    p = _command(g, "create", cmd_networks_create, "create a network")
    p.add_argument("name", metavar="NAME")
    _cloud(p, required=True)
    p.add_argument("--cidr", required=True, metavar="CIDR", help="e.g. 10.0.0.0/24")
    p.add_argument("--router", metavar="R", help="attach it to this router")
    p = _command(g, "remove", cmd_networks_remove, "remove a network MiniCloud created")
    p.add_argument("name", metavar="NAME")
    _cloud(p)
    g = _group(sub, "public-ips", "list and release public IPs")
    p = _command(g, "list", cmd_public_ips_list, "list the public IPs")
    _cloud(p)
    _json_flag(p)
    p = _command(g, "release", cmd_public_ips_release,
                 "give a public IP MiniCloud allocated back to its cloud")
    p.add_argument("address", metavar="ADDRESS")
    _cloud(p)

    # instances and security groups
    g = _group(sub, "instances", "create, show, start, stop, remove and connect to instances")
    p = _command(g, "list", cmd_instances_list, "list the instances")
    _cloud(p)
    _json_flag(p)
    p = _command(g, "create", cmd_instances_create, "create an instance")
    p.add_argument("name", metavar="NAME")
    _cloud(p, required=True)
    p.add_argument("--cluster", metavar="K", help="put it in this cluster")
    p.add_argument("--image", required=True, metavar="I")
    p.add_argument("--flavor", required=True, metavar="F")
    p.add_argument("--network", required=True, metavar="N")
    p.add_argument("--security-group", metavar="G", help="default: default")
    p.add_argument("--fixed-ip", metavar="IP", help="its private IP")
    p = _command(g, "show", cmd_instances_show, "show an instance")
    p.add_argument("name", metavar="NAME")
    _cloud(p)
    _json_flag(p)
    for action in ("start", "stop", "reboot"):
        p = _command(g, action, _power(action), f"{action} an instance")
        p.add_argument("name", metavar="NAME")
        _cloud(p)
    p = _command(g, "remove", cmd_instances_remove, "remove an instance MiniCloud created")
    p.add_argument("name", metavar="NAME")
    _cloud(p)
    p = _command(g, "connect", cmd_instances_connect,
                 "give an instance a public IP and SSH access, then run ssh to it "
                 "(on a Stub cloud: print the command)")
    p.add_argument("name", metavar="NAME")
    _cloud(p)
    p.add_argument("--public-ip", metavar="IP", help="use (or allocate) this public IP")
    p.add_argument("--user", metavar="U", help="login user (default: from the image)")
    g = _group(sub, "security-groups", "list security groups")
    p = _command(g, "list", cmd_security_groups_list, "list the security groups")
    _cloud(p)
    _json_flag(p)

    # reset and destroy
    p = _command(sub, "reset", cmd_reset,
                 "undo everything MiniCloud did in every cloud (keeps clouds and clusters)")
    _yes(p)
    p = _command(sub, "destroy", cmd_destroy,
                 "reset, then forget every cloud and drop MiniCloud's data")
    _yes(p)
    return parser


def cmd_help(app: MiniCloud, args: argparse.Namespace) -> int:
    _parse(args.parser, [*args.topic, "--help"])
    return OK


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """Parse; ``--help`` raises SystemExit(0) after printing, bad usage raises UsageError."""
    return parser.parse_args(list(argv))


# --- entry point ---------------------------------------------------------------------------


def run_command(app: MiniCloud, argv: Sequence[str]) -> int:
    """Run one command; returns its exit code.  Never raises (bar SystemExit from --help)."""
    try:
        parser = build_parser(app.clouds.types())
        try:
            args = _parse(parser, argv)
        except SystemExit as done:  # --help
            return done.code if isinstance(done.code, int) else OK
        args.parser = parser
        try:
            return args.handler(app, args)
        except SystemExit as done:  # help COMMAND
            return done.code if isinstance(done.code, int) else OK
    except UsageError as err:
        print(err if err.raw else f"minicloud: {err}", file=sys.stderr)
        return USAGE
    except USAGE_ERRORS as err:
        _err(str(err))
        return USAGE
    except MiniCloudError as err:
        _err(str(err))
        return FAILED
    except ImportError as err:
        _err(f"a cloud driver cannot be loaded: {err}")
        return FAILED
    except BrokenPipeError:
        # Nobody reads the output any more (``| head``): leave quietly.
        _silence_stdout()
        return OK
    except KeyboardInterrupt:
        print(file=sys.stderr)
        _err("interrupted")
        return 130
    except Exception as err:
        log.exception("command %s failed", " ".join(argv))
        _err(f"unexpected error: {type(err).__name__}: {err} (details in the log file)")
        return FAILED


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass

"""Helpers of up.sh, run with the stack venv's Python: configuration, waits, Keystone
registrations and the base objects of MiniCloud's functional-test OpenStack.

    stack.py configure        write every service's configuration into $MC_OS_STATE/etc
    stack.py neutron-tables   create Neutron's tables (its migrations fail on SQLite: gotcha 1)
    stack.py wait NAME...     wait until the named APIs answer (log tail printed on time-out)
    stack.py register         service project, users, roles, services and endpoints
    stack.py wait-compute     wait for the fake hypervisor, map it to the cell (gotcha 11)
    stack.py seed             external network, flavors, image, project, user, clouds.yaml

Everything here is a throwaway test cloud on 127.0.0.1: the passwords are random per
bring-up and written in plain text into the state dir.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from string import Template

HERE = Path(__file__).resolve().parent
STATE = Path(os.environ.get("MC_OS_STATE", "/tmp/minicloud-openstack"))
VENV = Path(os.environ.get("MC_OS_VENV", "/opt/minicloud-openstack-venv"))
HOST = "127.0.0.1"
REGION = "RegionOne"
AUTH_URL = f"http://{HOST}:5000/v3"
CLOUD = "minicloud-functional"

# name -> (port, service type, catalog path)
APIS = {
    "keystone": (5000, "identity", "/v3"),
    "glance": (9292, "image", ""),
    "placement": (8778, "placement", ""),
    "neutron": (9696, "network", ""),
    "nova": (8774, "compute", "/v2.1"),
}
SERVICE_USERS = ("glance", "placement", "neutron", "nova")
PROJECT = "minicloud"
MEMBER = "minicloud"


def say(text: str) -> None:
    print(f"stack: {text}", file=sys.stderr, flush=True)


def die(text: str) -> None:
    print(f"stack: ERROR: {text}", file=sys.stderr, flush=True)
    sys.exit(1)


def passwords() -> dict[str, str]:
    path = STATE / "passwords.json"
    if path.exists():
        return json.loads(path.read_text())
    names = ("admin", MEMBER, *SERVICE_USERS)
    data = {name: secrets.token_hex(16) for name in names}
    path.write_text(json.dumps(data, indent=1) + "\n")
    path.chmod(0o600)
    return data


def log_tail(name: str, lines: int = 60) -> str:
    path = STATE / "logs" / f"{name}.log"
    if not path.exists():
        return f"(no log at {path})"
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return f"--- last {len(text)} lines of {path}\n" + "\n".join(text)


# -- configure -----------------------------------------------------------------------------


def _auth_block(user: str, pw: dict[str, str], authtoken: bool) -> str:
    lines = [
        f"auth_url = {AUTH_URL}" if not authtoken else f"www_authenticate_uri = {AUTH_URL}",
        "auth_type = password",
        f"username = {user}",
        f"password = {pw[user]}",
        "user_domain_name = Default",
        "project_name = service",
        "project_domain_name = Default",
        f"region_name = {REGION}",
    ]
    if authtoken:
        lines[1:1] = [f"auth_url = {AUTH_URL}"]
        # keystonemiddleware checks service tokens (Nova's, gotcha 10) for this role.
        lines += ["service_token_roles = service", "service_token_roles_required = true"]
    return "\n".join(lines)


def configure() -> None:
    pw = passwords()
    values = {"STATE": str(STATE), "VENV": str(VENV)}
    for user in SERVICE_USERS:
        values[f"AUTHTOKEN_{user}"] = _auth_block(user, pw, authtoken=True)
        values[f"SERVICE_AUTH_{user}"] = _auth_block(user, pw, authtoken=False)
    files = {
        "keystone": ["keystone.conf"],
        "placement": ["placement.conf"],
        "glance": ["glance-api.conf"],
        "neutron": ["neutron.conf", "ml2_conf.ini"],
        "nova": ["nova.conf"],
    }
    for service, names in files.items():
        target = STATE / "etc" / service
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            text = Template((HERE / "etc" / name).read_text()).substitute(values)
            (target / name).write_text(text)
            (target / name).chmod(0o600)
    # Paste files as installed in the venv (gotcha 2).
    for service, name in (("glance", "glance-api-paste.ini"), ("neutron", "api-paste.ini"),
                          ("nova", "api-paste.ini")):
        shutil.copy(VENV / "etc" / service / name, STATE / "etc" / service / name)
    for sub in ("db", "logs", "run", "keystone/fernet-keys", "keystone/credential-keys",
                "glance/images", "glance/staging", "glance/tasks", "neutron/lock",
                "nova/lock", "nova/instances"):
        (STATE / sub).mkdir(parents=True, exist_ok=True)
    say(f"configuration written under {STATE / 'etc'}")


# -- Neutron's tables ----------------------------------------------------------------------


def neutron_tables() -> None:
    import sqlalchemy
    from neutron.db.migration.models import head

    engine = sqlalchemy.create_engine(f"sqlite:///{STATE}/db/neutron.sqlite")
    head.get_metadata().create_all(engine)
    engine.dispose()
    say("neutron tables created")


def sqlite_wal(names: list[str]) -> None:
    """Every database in write-ahead-log mode: readers no longer block writers, which ends
    most of SQLite's "database is locked" under Nova's threads (gotcha 6)."""
    import sqlite3

    for path in sorted((STATE / "db").glob("*.sqlite")):
        if names and path.stem not in names:
            continue
        db = sqlite3.connect(path)
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        db.close()
        if mode != "wal":
            die(f"{path}: journal mode stays {mode}")
    say("databases in WAL mode")


# -- waits -----------------------------------------------------------------------------------


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status < 500
    except urllib.error.HTTPError as err:
        return err.code < 500
    except (OSError, urllib.error.URLError):
        return False


def _pid_alive(name: str) -> bool:
    pid_file = STATE / "run" / f"{name}.pid"
    if not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text().split()[0]), 0)
    except (OSError, ValueError):
        return False
    return True


def wait(names: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = list(names)
    while pending:
        for name in list(pending):
            port, _, path = APIS[name]
            if _answers(f"http://{HOST}:{port}{path or '/'}"):
                pending.remove(name)
            elif not _pid_alive(name):
                die(f"{name} exited while starting\n{log_tail(name)}")
        if not pending:
            break
        if time.monotonic() > deadline:
            for name in pending:
                print(log_tail(name), file=sys.stderr)
            die(f"no answer after {timeout:.0f} s from: {', '.join(pending)}")
        time.sleep(0.3)
    say(f"answering: {', '.join(names)}")


# -- Keystone registrations ------------------------------------------------------------------


def admin_conn():
    import openstack

    return openstack.connect(
        auth_url=AUTH_URL, username="admin", password=passwords()["admin"],
        project_name="admin", user_domain_name="Default", project_domain_name="Default",
        region_name=REGION, identity_api_version="3", load_yaml_config=False,
        load_envvars=False)


def _role(conn, name: str):
    role = conn.identity.find_role(name)
    return role or conn.identity.create_role(name=name)


def register() -> None:
    pw = passwords()
    conn = admin_conn()
    ident = conn.identity
    domain = ident.find_domain("default") or ident.find_domain("Default")
    service_project = ident.find_project("service", domain_id=domain.id) or \
        ident.create_project(name="service", domain_id=domain.id)
    admin_role, service_role = _role(conn, "admin"), _role(conn, "service")
    for user in SERVICE_USERS:
        found = ident.find_user(user, domain_id=domain.id)
        if found is None:
            found = ident.create_user(name=user, password=pw[user], domain_id=domain.id,
                                      default_project_id=service_project.id)
        # admin for their own calls, service for service tokens (gotcha 3).
        for role in (admin_role, service_role):
            ident.assign_project_role_to_user(service_project, found, role)
    for name, (port, service_type, path) in APIS.items():
        if name == "keystone":
            continue  # bootstrap registered it
        service = next(iter(ident.services(type=service_type)), None) or \
            ident.create_service(name=name, type=service_type)
        have = {e.interface for e in ident.endpoints(service_id=service.id)}
        for interface in ("public", "internal", "admin"):
            if interface not in have:
                ident.create_endpoint(service_id=service.id, interface=interface,
                                      url=f"http://{HOST}:{port}{path}", region_id=REGION)
    conn.close()
    say("service users, services and endpoints registered")


# -- compute -------------------------------------------------------------------------------


def wait_compute(timeout: float) -> None:
    """The fake hypervisor registered in Placement, mapped to the cell, listed (gotcha 11).

    Nova lists a hypervisor only once its host is mapped to a cell, so the wait is on
    Placement's resource provider (created with the compute node record), then
    ``discover_hosts`` maps it."""
    conn = admin_conn()
    deadline = time.monotonic() + timeout
    while not list(conn.placement.resource_providers()):
        if time.monotonic() > deadline:
            print(log_tail("nova-compute"), file=sys.stderr)
            die(f"nova-compute registered no resource provider after {timeout:.0f} s")
        if not _pid_alive("nova-compute"):
            die(f"nova-compute exited\n{log_tail('nova-compute')}")
        time.sleep(0.5)
    nova_manage = [str(VENV / "bin" / "nova-manage"), "--config-file",
                   str(STATE / "etc" / "nova" / "nova.conf")]
    out = subprocess.run([*nova_manage, "cell_v2", "discover_hosts", "--verbose"],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        die(f"nova-manage cell_v2 discover_hosts failed:\n{out.stdout}{out.stderr}")
    while not (hypervisors := list(conn.compute.hypervisors())):
        if time.monotonic() > deadline:
            die(f"no hypervisor listed after {timeout:.0f} s; discover_hosts said:\n"
                f"{out.stdout}{out.stderr}")
        time.sleep(0.5)
    conn.close()
    say(f"hypervisor up and mapped: {', '.join(h.name for h in hypervisors)}")


# -- base objects --------------------------------------------------------------------------


def seed() -> None:
    pw = passwords()
    conn = admin_conn()
    ident = conn.identity
    domain = ident.find_domain("default") or ident.find_domain("Default")

    project = ident.find_project(PROJECT, domain_id=domain.id) or ident.create_project(
        name=PROJECT, domain_id=domain.id, description="MiniCloud's functional tests")
    user = ident.find_user(MEMBER, domain_id=domain.id) or ident.create_user(
        name=MEMBER, password=pw[MEMBER], domain_id=domain.id, default_project_id=project.id)
    ident.assign_project_role_to_user(project, user, _role(conn, "member"))

    # Two external networks: "public" for the functional scenario, and TryStack's own
    # ("external", subnet "trystack", 8.21.28.0/24), so that the README's deployment file
    # (examples/trystack.yaml: its router's gateway, Tower's public IP 8.21.28.30) applies here
    # unchanged with --cloud-map.
    for name, physnet, subnet, prefix in (("public", "public", "public-subnet", "203.0.113"),
                                          ("external", "trystack", "trystack", "8.21.28")):
        if conn.network.find_network(name) is not None:
            continue
        net = conn.network.create_network(
            name=name, is_router_external=True, is_shared=True,
            provider_network_type="flat", provider_physical_network=physnet)
        conn.network.create_subnet(
            name=subnet, network_id=net.id, ip_version=4, cidr=f"{prefix}.0/24",
            gateway_ip=f"{prefix}.1", is_dhcp_enabled=False,
            allocation_pools=[{"start": f"{prefix}.10", "end": f"{prefix}.250"}])

    for name, ram, vcpus, disk in (("m1.tiny", 512, 1, 1), ("m1.small", 2048, 1, 20)):
        if conn.compute.find_flavor(name) is None:
            conn.compute.create_flavor(name=name, ram=ram, vcpus=vcpus, disk=disk,
                                       is_public=True)

    if conn.image.find_image("cirros") is None:
        # The hypervisor is fake: any small file will do as the image's data.
        conn.image.create_image(
            name="cirros", disk_format="raw", container_format="bare",
            visibility="public", data=b"\0" * 4096, os_admin_user="cirros",
            os_distro="cirros", allow_duplicates=True)
    image = conn.image.find_image("cirros")
    deadline = time.monotonic() + 60
    while conn.image.get_image(image.id).status != "active":
        if time.monotonic() > deadline:
            die(f"image cirros is not active\n{log_tail('glance')}")
        time.sleep(0.5)
    conn.close()

    clouds = STATE / "clouds.yaml"
    clouds.write_text(f"""\
# MiniCloud's functional-test OpenStack (tests/functional/openstack/up.sh).
# A THROWAWAY TEST CLOUD on 127.0.0.1: its passwords are random per bring-up, protect nothing
# else, and are written here in plain text on purpose.
clouds:
  {CLOUD}:
    auth:
      auth_url: {AUTH_URL}
      username: {MEMBER}
      password: {pw[MEMBER]}
      project_name: {PROJECT}
      user_domain_name: Default
      project_domain_name: Default
    region_name: {REGION}
    identity_api_version: 3
    interface: public
  {CLOUD}-admin:
    auth:
      auth_url: {AUTH_URL}
      username: admin
      password: {pw["admin"]}
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: {REGION}
    identity_api_version: 3
    interface: public
""")
    clouds.chmod(0o600)
    say(f"base objects created; {clouds} written")


def main(argv: list[str]) -> None:
    if not argv:
        die(__doc__ or "")
    command, args = argv[0], argv[1:]
    if command == "configure":
        configure()
    elif command == "neutron-tables":
        neutron_tables()
    elif command == "sqlite-wal":
        sqlite_wal(args)
    elif command == "wait":
        wait(args, float(os.environ.get("MC_OS_TIMEOUT", "120")))
    elif command == "register":
        register()
    elif command == "wait-compute":
        wait_compute(float(os.environ.get("MC_OS_TIMEOUT", "120")))
    elif command == "seed":
        seed()
    elif command == "password":
        print(passwords()[args[0]])
    else:
        die(f"unknown command {command!r}\n{__doc__}")


if __name__ == "__main__":
    main(sys.argv[1:])

"""MiniCloud's own SSH group, ``public_ssh``: made once per cloud when an operation names it."""

from __future__ import annotations

from functools import partial

from ..model.kinds import SECURITY_GROUP
from ..model.names import PUBLIC_SSH
from ..model.objects import SecurityGroup, SecurityRule
from .base import Manager, Undo

SSH_RULES = (SecurityRule("ingress", "tcp", 22, 22, "IPv4", "0.0.0.0/0"),
             SecurityRule("ingress", "tcp", 22, 22, "IPv6", "::/0"))


def public_ssh(manager: Manager, cloud: str, undo: Undo) -> SecurityGroup:
    """The cloud's ``public_ssh`` group with TCP 22 for IPv4 and IPv6, made when missing (the
    caller's intent claims it, so two writes do not both make it).  Returned for the
    caller's settle."""
    driver = manager.driver(cloud)
    group = next((g for g in manager.cache.all(SECURITY_GROUP, cloud)
                  if g.name == PUBLIC_SSH), None)
    if group is None:
        group = driver.create_security_group(PUBLIC_SSH, "SSH from anywhere (MiniCloud)")
        undo.push(f"security group {PUBLIC_SSH} in cloud {cloud}",
                  partial(driver.delete_security_group, group.id))
    for rule in SSH_RULES:
        if rule not in group.rules:
            group = driver.add_security_group_rule(group.id, rule)
    return group

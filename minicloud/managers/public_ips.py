"""Public IPs: listed, found by address, released when MiniCloud allocated them (giving one
to an instance is the AccessManager's)."""

from __future__ import annotations

from ..model.errors import NotFoundError, ValidationError
from ..model.kinds import INSTANCE, PUBLIC_IP
from ..model.objects import Instance, PublicIP
from .base import Manager

__all__ = ["PublicIPManager"]


class PublicIPManager(Manager):
    def public_ips(self, cloud: str | None = None) -> list[PublicIP]:
        return sorted(self.cache.all(PUBLIC_IP, self.known(cloud)),
                      key=lambda f: (f.cloud, f.name))

    def find_public_ip(self, address: str, cloud: str | None = None) -> PublicIP:
        matches = [f for f in self.cache.all(PUBLIC_IP, cloud) if f.name == address]
        if not matches:
            raise NotFoundError(f"no public IP {address!r}")
        if len(matches) > 1:
            raise ValidationError(f"public IP {address} exists in several clouds; name the cloud")
        return matches[0]

    def release_refusal(self, fip: PublicIP) -> ValidationError | None:
        """Why ``release(fip)`` would be refused, or None."""
        if not fip.owned:
            return ValidationError(f"MiniCloud did not allocate {fip.name}; it stays")
        return None

    def releasable(self) -> list[PublicIP]:
        """The public IPs that can be released."""
        return [f for f in self.public_ips() if self.release_refusal(f) is None]

    def holder(self, fip: PublicIP) -> Instance | None:
        """The instance the public IP is attached to, if any (a release takes it away)."""
        if not fip.instance_id:
            return None
        return self.cache.get(INSTANCE, fip.cloud, fip.instance_id)

    def release(self, fip: PublicIP) -> None:
        """Give a public IP MiniCloud allocated back to the cloud."""
        refusal = self.release_refusal(fip)
        if refusal is not None:
            raise refusal
        intent = self.work.begin(fip.cloud, f"release public IP {fip.name}",
                                 requires=[("public_ip", fip.id)])
        with self.work.running(intent):
            self.driver(fip.cloud).release_public_ip(fip.id)
            self.work.settle(intent, deletes=[fip, *self.changes_of(fip.cloud, fip.id)])

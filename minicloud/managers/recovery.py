"""What killed processes left half-done, settled as the clouds show it (DESIGN.md section 7,
"Intents make interruption safe"): the unit of work's settler.

The unit of work is given a :class:`Recovery` when it is built (app.py) and hands it the dead
intents of a cloud before it writes there, at the menu's start and on refresh:

- in a cloud the store does not know, a killed ``clouds add``: abandoned (what its setup made
  stays in the cloud, as for any cloud MiniCloud forgets; no driver is built), said in one
  line;
- a killed removal: finished (the cloud forgotten), said in one line;
- anything else: the cloud is read (what the write created is adopted with MiniCloud's mark),
  and a change it made to someone else's resource is recorded when the cloud shows it made,
  so that Reset undoes it; a Reset's lists the change records it undoes (marked ``undo``):
  each goes when the cloud shows it undone; said in one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..model.codec import from_dict, to_dict
from ..model.kinds import CHANGE, INSTANCE, NETWORK, PUBLIC_IP, ROUTER
from ..model.objects import Change, Cloud, Intent, State
from ..state.unit_of_work import added_cloud, is_removal
from .reconciler import read_cloud

if TYPE_CHECKING:
    from ..state.unit_of_work import UnitOfWork
    from .session import Session


def forget(session: Session, cloud: Cloud, intent: Intent) -> str:
    """Forget a cloud whose removal ``intent`` recorded: its driver first, if this session
    built one (told and closed: no cloud call, and none is built for it, so a cloud that
    cannot be reached is forgotten all the same), then every row the store has of it, then
    the secrets typed for it.  Its resources stay in the cloud, whatever its type (a Stub
    cloud's in its location).  Returns what happened, in one line."""
    session.drivers.forget(cloud.name)
    session.work.forget_cloud(intent)
    session.drivers.forget_secrets(cloud.name)
    return f"cloud {cloud.name} forgotten; its resources stay in the cloud"


class Recovery:
    """Settles the dead intents of one cloud (the unit of work's settler)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def settle(self, work: UnitOfWork, cloud: str, dead: list[Intent]) -> None:
        row = work.stored_cloud(cloud)
        removals = [i for i in dead if is_removal(i)]
        if row is None:
            self._abandon(work, cloud, dead)
        elif removals:
            self.session.notify(forget(self.session, row, removals[0])
                                + " (an interrupted remove, finished)")
        else:
            self._as_the_cloud_shows(work, row, dead)

    def _abandon(self, work: UnitOfWork, cloud: str, dead: list[Intent]) -> None:
        """A ``clouds add`` that never finished is dropped; what its setup made stays in the
        cloud (a Stub cloud's external network and default group), as for any cloud MiniCloud
        forgets, and adding the name again finds it.  No driver is built for it: one that
        cannot be (a location that cannot be opened) must not keep the intent.  Whatever else
        a cloud the store does not know left goes too: no row of a gone cloud stays."""
        adds = [i for i in dead if added_cloud(i) is not None]
        self.session.drivers.forget(cloud)
        work.end_dead(cloud, dead)
        if adds:
            self.session.notify(f"cloud {cloud}: an interrupted add was undone")

    def _as_the_cloud_shows(self, work: UnitOfWork, cloud: Cloud, dead: list[Intent]) -> None:
        read_cloud(self.session, cloud, notices=True)
        cache = work.inventory.cache
        puts: list[Any] = []
        deletes: list[Any] = []
        for intent in dead:
            if added_cloud(intent) is not None:
                continue  # an add of an earlier incarnation of the name: nothing to record
            for data in intent.changes:
                if data.get("undo"):  # a Reset's: the record goes once the cloud shows it undone
                    record = cache.get(CHANGE, cloud.name, str(data.get("id") or ""))
                    if record is not None and \
                            made_change(cache, cloud.name, to_dict(record)) is None:
                        deletes.append(record)
                    continue
                change = made_change(cache, cloud.name, data)
                if change is None:
                    continue
                opposite = cache.get(CHANGE, cloud.name, change.opposite_id or "")
                if opposite is not None:
                    deletes.append(opposite)  # the two cancel out
                else:
                    puts.append(change)
        work.end_dead(cloud.name, dead, puts, deletes)
        for intent in dead:
            self.session.notify(f"cloud {cloud.name}: an interrupted write was settled as the "
                                f"cloud shows it ({intent.name})")


def made_change(cache: Any, cloud: str, data: dict[str, Any]) -> Change | None:
    """The change record ``data`` describes, when the cloud (as just synced) shows it made."""
    if data.get("name") not in Change.OPPOSITES and data.get("name") != "power":
        return None  # not a change record (an added cloud's own description)
    change = from_dict(Change, data)
    if change.network_id is None and data.get("network_name"):
        net = next((n for n in cache.all(NETWORK, cloud)
                    if n.name == data["network_name"] and n.owned), None)
        if net is None:
            return None
        change = Change.of(cloud, change.name, change.target_id, net.id, change.detail)
    what, target = change.name, change.target_id
    if what.startswith(("interface", "gateway")):
        router = cache.get(ROUTER, cloud, target)
        if router is None:
            return None
        if what.startswith("interface"):
            present = change.network_id in router.interface_network_ids
        else:
            present = router.gateway_network_id == change.network_id
        return change if present == (not what.endswith("_removed")) else None
    if what in ("association", "disassociation"):
        ip = cache.get(PUBLIC_IP, cloud, target)
        if ip is None:
            return None
        return change if bool(ip.instance_id) == (what == "association") else None
    server = cache.get(INSTANCE, cloud, target)
    if server is None:
        return None
    if what.startswith("server_group"):  # ``detail`` names the group
        present = change.detail in server.security_groups
        return change if present == (what == "server_group") else None
    if what == "power":
        return None if State.restored(change.detail, server.status) else change
    return None

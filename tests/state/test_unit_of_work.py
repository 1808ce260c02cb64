"""The unit of work's pieces on their own: the listing rule (state/listing.py), the claims
(one check each, the same early and under the lock), and that nothing else writes the store."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from minicloud.model.errors import InUseError, ValidationError
from minicloud.model.objects import (
    Change,
    Cloud,
    CloudSnapshot,
    Cluster,
    Instance,
    Intent,
    Network,
    Nic,
    Router,
    Subnet,
)
from minicloud.state.claims import CacheRows, Claims, StoreRows
from minicloud.state.listing import Baseline, merge

CLOUD = "Lab"
PACKAGE = Path(__file__).resolve().parents[2] / "minicloud"


def _net(ident: str, version: int = 1, cidr: str = "10.0.0.0/24", owned: bool = True
         ) -> Network:
    return Network(CLOUD, ident, f"net-{ident}", owned, version,
                   subnets=[Subnet(f"s-{ident}", "", cidr)])


def _rows(*objs: Any) -> dict[tuple[str, str], Any]:
    return {(o.kind, o.id): o for o in objs}


def _baseline(*objs: Any) -> Baseline:
    return Baseline(Cloud(CLOUD, "stub", incarnation="i1"), 7, _rows(*objs))


def _listing(*objs: Any) -> CloudSnapshot:
    snap = CloudSnapshot()
    for obj in objs:
        getattr(snap, {"network": "networks", "router": "routers",
                       "instance": "instances"}[obj.kind]).append(obj)
    return snap


def _ids(objs: list[Any]) -> list[str]:
    return sorted(o.id for o in objs)


# -- the listing rule ----------------------------------------------------------------------------

def test_nothing_settled_meanwhile_the_listing_is_applied_whole() -> None:
    base = _baseline(_net("a"), _net("gone"))
    changed = _net("a", cidr="10.9.0.0/24")
    out = merge(base, None, _listing(changed, _net("new")))
    assert _ids(out.puts) == ["a", "new"]
    assert _ids(out.deletes) == ["gone"] and _ids(out.dropped) == ["gone"]
    assert _ids(out.adopted) == ["new"]
    assert out.kept == set()


def test_rows_written_while_the_listing_ran_are_kept_as_the_store_has_them() -> None:
    base = _baseline(_net("same"), _net("changed"), _net("removed"), _net("unlisted"))
    # Meanwhile: "created" made, "changed" changed, "removed" deleted by settled writes.
    current = _rows(_net("same"), _net("changed", version=2), _net("created"), _net("unlisted"))
    # The listing was taken before all of it: it knows none of those writes.
    out = merge(base, current, _listing(_net("same"), _net("changed"), _net("removed")))
    assert out.kept == {("network", "changed"), ("network", "created"), ("network", "removed")}
    assert _ids(out.puts) == []  # "removed" is not brought back, "changed" not overwritten
    assert _ids(out.deletes) == ["unlisted"]  # unchanged since the baseline, and not listed
    assert _ids(out.adopted) == []


def test_an_object_neither_baseline_nor_store_had_is_added_even_when_others_wrote() -> None:
    base = _baseline(_net("a"))
    current = _rows(_net("a"), _net("b"))
    out = merge(base, current, _listing(_net("a"), _net("outside")))
    assert _ids(out.adopted) == ["outside"] and _ids(out.puts) == ["outside"]


def test_drift_is_counted_on_the_decided_objects_only() -> None:
    base = _baseline(_net("a"), _net("b"))
    current = _rows(_net("a"), _net("b", version=2))
    out = merge(base, current, _listing(_net("a", cidr="10.7.0.0/24")))
    assert _ids(out.before) == ["a"] and _ids(out.after) == ["a"]


def test_change_records_go_with_their_object_unless_kept() -> None:
    router = Router(CLOUD, "r1", "r1", False, 1)
    record = Change.of(CLOUD, "interface", "r1", "n1")
    record.version = 1
    recent = Change.of(CLOUD, "gateway", "r2", "ext")
    recent.version = 1
    base = _baseline(router, record)
    # The router is gone from the listing: its unchanged record goes.
    assert [c.id for c in merge(base, None, _listing()).deletes if c.kind == "change"] == \
        [record.id]
    # A record written meanwhile (its object made meanwhile too) stays.
    current = _rows(router, record, recent, Router(CLOUD, "r2", "r2", False, 1))
    out = merge(base, current, _listing(router))
    assert [c.id for c in out.deletes if c.kind == "change"] == []


def test_a_cluster_a_listed_server_names_is_added_once() -> None:
    base = _baseline(Cluster(CLOUD, "Antwerp", 1))
    servers = [Instance(CLOUD, f"s{i}", f"s{i}", True, cluster=c,
                        nics=[Nic("n", f"10.0.0.{i}")])
               for i, c in enumerate(["Antwerp", "London", "London"])]
    out = merge(base, None, _listing(*servers))
    assert [c.name for c in out.puts if c.kind == "cluster"] == ["London"]


# -- claims: one check, early and under the lock ------------------------------------------------

@pytest.fixture
def lab(cloud_app: Any) -> Any:
    cloud_app.networks.create(CLOUD, "n1", "10.1.0.0/24")
    net = cloud_app.networks.find("network", "n1", CLOUD)
    cloud_app.instances.create(CLOUD, "vm", "cirros", "m1.tiny", "n1", fixed_ip="10.1.0.9")
    return cloud_app, net


def _both(app: Any) -> list[Any]:
    return [CacheRows(app.inventory.cache, CLOUD), StoreRows(app.store, CLOUD)]


@pytest.mark.parametrize(("claim", "error", "said"), [
    (Claims.name("network", "n1"), ValidationError,
     "a network named 'n1' exists already in cloud Lab"),
    (Claims.name("instance", "vm"), ValidationError,
     "an instance named 'vm' exists already in cloud Lab"),
    (Claims.cidr("10.1.0.128/25"), ValidationError,
     "10.1.0.128/25 overlaps n1 (10.1.0.0/24) in cloud Lab"),
    (Claims.name("cloud", CLOUD), ValidationError, "a cloud named 'Lab' exists already"),
])
def test_a_claim_says_the_same_from_the_cache_and_from_the_store(
        lab: tuple[Any, Network], claim: Any, error: type, said: str) -> None:
    app, _ = lab
    for rows in _both(app):
        with pytest.raises(error) as refused:
            claim.check(rows)
        assert str(refused.value) == said


def test_an_address_claim_says_the_same_from_the_cache_and_from_the_store(
        lab: tuple[Any, Network]) -> None:
    app, net = lab
    for rows in _both(app):
        with pytest.raises(InUseError, match="10.1.0.9 is in use by instance vm"):
            Claims.address(net.id, "10.1.0.9").check(rows)
        Claims.address(net.id, "10.1.0.10").check(rows)


def test_what_a_live_write_of_another_session_takes_is_taken(lab: tuple[Any, Network]
                                                             ) -> None:
    app, net = lab
    other = Intent(CLOUD, "x", "create network n2", claims=[
        Claims.name("network", "n2").text or "", Claims.cidr("10.2.0.0/24").text or "",
        Claims.address(net.id, "10.1.0.20").text or ""])
    rows = StoreRows(app.store, CLOUD)
    with pytest.raises(ValidationError, match="'n2' is being created in cloud Lab by another"):
        Claims.name("network", "n2").check(rows, [other])
    with pytest.raises(ValidationError, match="overlaps a network being created"):
        Claims.cidr("10.2.0.0/16").check(rows, [other])
    with pytest.raises(InUseError, match="10.1.0.20 is being taken by another session"):
        Claims.address(net.id, "10.1.0.20").check(rows, [other])


# -- one write path --------------------------------------------------------------------------------

# What writes the store (on a Store, an Inventory, a Table): only the state package calls them.
STORE_WRITES = {"write", "transaction", "kind", "table", "set_meta", "empty_all", "bump"}


def test_nothing_outside_the_state_writes_the_store() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        part = path.relative_to(PACKAGE).parts[0]
        if part in ("state", "drivers"):  # drivers keep no MiniCloud data (the Stub: its own)
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in STORE_WRITES:
                owner = ast.unparse(node.value)
                if owner.endswith(("store", "inventory")):
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: "
                                 f"{ast.unparse(node)}")
    assert found == []


def _refusals(path: Path) -> str:
    """The text of every ``raise`` and ``return ...Error(...)`` of a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return "\n".join(ast.unparse(node) for node in ast.walk(tree)
                     if isinstance(node, (ast.Raise, ast.Return)))


@pytest.mark.parametrize("words", ["exists already", "overlaps", "is in use by",
                                   "was removed by another session; nothing was changed"])
def test_each_refusal_is_written_once(words: str) -> None:
    """Each rule once (DESIGN.md section 1): a claim's refusal is raised from one module."""
    places = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                    if "drivers" not in p.parts and words in _refusals(p))
    assert len(places) == 1, places

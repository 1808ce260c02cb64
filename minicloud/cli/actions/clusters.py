"""Clusters: list, add, remove."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import present
from ..present import Result, said, table
from .base import (
    CLOUD,
    CLOUD_FILTER,
    CLOUD_HINT,
    JSON,
    Action,
    Context,
    Values,
    chosen,
    name_of,
    new_name,
    obj,
)

if TYPE_CHECKING:
    from ...app import MiniCloud


class ClustersList(Action):
    path = ("clusters", "list")
    help = "list the clusters"
    args = (CLOUD_FILTER, JSON)

    def run(self, ctx: Context, v: Values) -> Result:
        from ...render.views import Views

        views = Views(ctx.app.topology.deployment(name_of(v.cloud)))
        rows = [views.cluster(c) for c in ctx.app.clusters.all(name_of(v.cloud))]
        shown = [dict(row, instances=[i["name"] for i in row["instances"]]) for row in rows]
        return table(rows, present.CLUSTER_COLUMNS, "No clusters yet.", shown)


class ClustersAdd(Action):
    path = ("clusters", "add")
    help = "add a cluster to a cloud"
    menu = ("Add a cluster",)
    args = (CLOUD, new_name("cluster", lambda app, v, text: app.clusters.check_new_name(
        name_of(v.cloud) or "", text)))

    def run(self, ctx: Context, v: Values) -> Result:
        cluster = ctx.app.clusters.add(name_of(v.cloud) or "", v.name)
        return said(f"Cluster {cluster.name} added to cloud {cluster.cloud}.")


def _clusters(app: MiniCloud, v: Values) -> Sequence[Any]:
    return app.clusters.all()


class ClustersRemove(Action):
    path = ("clusters", "remove")
    help = "remove an empty cluster"
    menu = ("Remove a cluster",)
    args = (chosen("cluster", _clusters, "No clusters yet."), CLOUD_HINT)
    confirm = "menu"

    def run(self, ctx: Context, v: Values) -> Result:
        cluster = obj(ctx, "cluster", v.name, v.cloud)
        ctx.app.clusters.check_removable(cluster)  # a refusal comes before the question
        ctx.confirm(f"Remove cluster {cluster.name} from cloud {cluster.cloud}?")
        ctx.app.clusters.remove(cluster.cloud, cluster.name)
        return said(f"Cluster {cluster.name} removed from cloud {cluster.cloud}.")


ACTIONS: tuple[Action, ...] = (ClustersList(), ClustersAdd(), ClustersRemove())

"""Clusters: the named parts of a cloud that instances may be placed in."""

from __future__ import annotations

from ..model.errors import InUseError, NotFoundError
from ..model.kinds import CLUSTER, INSTANCE
from ..model.objects import Cluster
from ..state.claims import Claims
from .base import Manager


class ClusterManager(Manager):
    def all(self, cloud: str | None = None) -> list[Cluster]:
        return sorted(self.cache.all(CLUSTER, self.known(cloud)),
                      key=lambda c: (c.cloud, c.name))

    def check_new_name(self, cloud: str, name: str) -> str:
        """The name of a cluster to add to ``cloud``: valid and free."""
        return self._check_new_name("cluster", cloud, name)

    def add(self, cloud: str, name: str) -> Cluster:
        self.cloud(cloud)
        self.check_new_name(cloud, name)
        cluster = Cluster(cloud, name)
        intent = self.work.begin(cloud, f"add cluster {name}",
                                 claims=[Claims.name("cluster", name)])
        with self.work.running(intent):
            self.work.settle(intent, puts=[cluster])
        return self.by_id(CLUSTER, cloud, name)

    def remove(self, cloud: str, name: str) -> None:
        cluster = self.cache.get(CLUSTER, cloud, name)
        if cluster is None:
            raise NotFoundError(f"no cluster named {name!r} in cloud {cloud}")
        self._check_empty(cluster)
        intent = self.work.begin(cloud, f"remove cluster {name}",
                                 requires=[("cluster", name)])
        with self.work.running(intent):
            self._check_empty(cluster)  # again: the cache is the store's since the intent
            self.work.settle(intent, deletes=[cluster])

    def check_removable(self, cluster: Cluster) -> None:
        """Refuse (as remove does) a cluster with instances: a front end asks this
        before its confirmation."""
        self._check_empty(cluster)

    def _check_empty(self, cluster: Cluster) -> None:
        members = sorted(i.name for i in self.cache.all(INSTANCE, cluster.cloud)
                         if i.cluster == cluster.name)
        if members:
            raise InUseError(f"cluster {cluster.name} still has instances: "
                             f"{', '.join(members)}; remove them first")

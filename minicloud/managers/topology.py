"""The topology read model: the whole deployment (or one cloud's part) in every format.

Every picture goes through :meth:`Topology.render`, whether a front end prints it or writes it
to a file: the tree and the JSON view from each cloud's part (saved ones while their cloud's
generation and token stay, render/saved_views.py), DOT and Mermaid from the deployment's one
graph.  The renderers are pure (minicloud/render/) and imported only when used: help and usage
errors never pay for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..model import json_text
from ..model.kinds import CLOUD
from ..model.objects import Cloud, Deployment
from .base import Manager


class Topology(Manager):
    def deployment(self, cloud: str | None = None) -> Deployment:
        """Everything MiniCloud knows (or its part in one cloud), for the tree and the
        views.  The whole store is read in one query a table."""
        if cloud is None:
            self.session.inventory.ensure_loaded()
        return self.cache.deployment(cloud)

    def tree(self) -> list[str]:
        """The topology tree's lines (render/topology.py)."""
        from ..render.topology import assemble, cloud_parts

        clouds, parts = self._parts("tree", cloud_parts)
        return assemble(clouds, parts)

    def view(self) -> dict[str, Any]:
        """The topology as data (render/views.py): what ``--json`` prints."""
        from ..render.views import assemble, cloud_part

        clouds, parts = self._parts("json", cloud_part)
        return assemble(clouds, parts)

    def render(self, fmt: str) -> str:
        """The whole deployment as text in ``fmt`` (one of FORMATS): the tree, compact JSON,
        DOT or Mermaid."""
        if fmt == "text":
            return "\n".join(self.tree()) + "\n"
        if fmt == "json":
            return json_text.dumps(self.view()) + "\n"
        if fmt == "dot":
            from ..render.topology_dot import render_dot

            return render_dot(self.deployment())
        if fmt == "mermaid":
            from ..render.topology_mermaid import render_mermaid

            return render_mermaid(self.deployment())
        raise ValueError(f"unknown topology format {fmt!r}")  # the front ends offer FORMATS

    def _parts(self, view: str, make: Callable[[Deployment], Any],
               ) -> tuple[list[Cloud], dict[str, Any]]:
        from ..render.saved_views import SavedViews

        inventory = self.session.inventory
        clouds = sorted(self.cache.all(CLOUD), key=lambda c: c.name)
        saved = SavedViews(self.session.config.home, self.session.store.identity)
        parts = {}
        for cloud in clouds:
            # The cloud's generation and the token written with it: what its rows are.
            stamp = inventory.stamp(cloud.name)
            part = saved.get(view, cloud.name, stamp) if stamp is not None else None
            if part is None:
                part = make(self.cache.deployment(cloud.name))
                # Saved only when every row was read at that stamp (a read sees a newer
                # one when another session wrote the cloud meanwhile).
                if stamp is not None and inventory.stamp(cloud.name) == stamp:
                    saved.put(view, cloud.name, stamp, part)
            parts[cloud.name] = part
        saved.keep_only(view, list(parts))
        return clouds, parts

"""The README's demo deployment (DESIGN.md section 4b), built by applying its file
(examples/trystack.yaml, shipped as minicloud/deployment/trystack.yaml) through the managers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ..model.errors import MiniCloudError

if TYPE_CHECKING:
    from .clouds import CloudManager
    from .deployments import DeploymentManager

CLOUD = "TryStack"


class Managers(Protocol):
    """What the demo is built through (the app holds them; nothing here knows the app)."""

    clouds: CloudManager
    deployments: DeploymentManager


def build_demo(app: Managers) -> bool:
    """Build the demo in an empty store.  Returns False (and changes nothing) otherwise."""
    if app.clouds.all():
        return False
    report = app.deployments.apply(app.deployments.demo())
    if report.failed:
        raise MiniCloudError(report.failed)
    return True

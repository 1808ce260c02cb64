"""Reset's report names what it undid: a detached interface names its network and router."""

from __future__ import annotations

from minicloud.app import MiniCloud


def test_a_detached_interface_names_network_and_router(demo_app: MiniCloud) -> None:
    report = demo_app.resetter.reset()
    assert "detached network LondonNet from router LondonGateway" in report.undone, report.undone
    assert not any("a network" in line for line in report.undone)

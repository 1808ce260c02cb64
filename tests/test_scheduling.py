"""The workers' units of work (tests/scheduling.py): a shared service's tests are one unit."""

from __future__ import annotations

from types import SimpleNamespace

from tests.scheduling import SharedServiceScheduling, make_scheduler, service_of


def test_the_cases_of_one_service_are_one_unit_and_the_others_one_each() -> None:
    split = SharedServiceScheduling._split_scope
    units = {split(None, nodeid) for nodeid in (  # type: ignore[arg-type]
        "tests/state/test_galera.py::test_a",
        "tests/state/test_galera_walks.py::test_b[reset-before-the proxy]",
        "tests/functional/test_openstack_apply.py::test_c",
        "tests/functional/test_openstack_functional.py::test_d",
        "tests/state/test_write_races.py::test_e[galera-network]",
        "tests/state/test_interruptions.py::test_g[galera]",
        "tests/state/test_write_races.py::test_e[sqlite-network]",
        "tests/state/test_write_races.py::test_f",
    )}
    assert units == {"the Galera cluster", "the local OpenStack",
                     "tests/state/test_write_races.py::test_e[sqlite-network]",
                     "tests/state/test_write_races.py::test_f"}
    assert service_of("tests/state/test_galera_like.py::test_x") is None
    assert service_of("tests/state/test_x.py::test_y[galera_ish-1]") is None


def test_another_dist_mode_is_left_to_xdist() -> None:
    for mode in ("loadfile", "loadscope", "worksteal", "each", "no"):
        config = SimpleNamespace(getoption=lambda name, mode=mode: mode)
        assert make_scheduler(config, None) is None

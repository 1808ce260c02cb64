"""Fixtures of the functional tests: one case at a time on the one OpenStack, a MiniCloud home,
an openstacksdk connection with the leftovers of earlier runs cleaned before and after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.functional.harness import Env, clean_leftovers, public_key, sdk


@pytest.fixture(autouse=True)
def _one_at_a_time(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One OpenStack for every case: each holds a lock (a file beside the workers' temporary
    folders) while it runs.  The suite's scheduler gives these cases to one worker anyway
    (tests/scheduling.py); the lock keeps any other way of running them (another --dist, two
    runs at once) correct."""
    import fcntl

    shared = tmp_path_factory.getbasetemp().parent
    with open(shared / "openstack-functional.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    # MiniCloud uploads the user's public key once per cloud: give it one of its own.
    (home / ".ssh" / "id_ed25519.pub").write_text(public_key() + "\n")
    monkeypatch.setenv("HOME", str(home))
    record = tmp_path / "ssh-args"
    ssh = tmp_path / "fake-ssh"
    # No SSH server exists behind the fake hypervisor: this stands in for ssh.
    ssh.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{record}"\nexit 0\n')
    ssh.chmod(0o755)
    return Env(home, f"sqlite:///{tmp_path}/minicloud.db", ssh, record)


@pytest.fixture
def conn() -> Iterator[Any]:
    connection = sdk()
    clean_leftovers(connection)
    yield connection
    try:
        clean_leftovers(connection)
    finally:
        connection.close()



"""Help, a command's --help and usage errors never open the store: they are as fast on a
store of 30,000 instances as on none, and work even when the store cannot be read."""

from __future__ import annotations

from pathlib import Path

from tests.consistency import minicloud


def test_help_and_usage_errors_never_open_the_store(tmp_path: Path) -> None:
    store = tmp_path / "minicloud.db"
    store.write_bytes(b"this is not an SQLite file" * 40)  # opening it would fail
    url = f"sqlite:///{store}"
    for args in (["help"], ["help", "routers", "create"], ["routers", "create", "--help"],
                 ["--version"]):
        done = minicloud(tmp_path, url, *args)
        assert done.returncode == 0, (args, done.stderr)
        assert done.stdout and "store" not in done.stderr, args
    for args in (["routers", "bogus"], ["networks", "create", "N"], ["nonsense"]):
        done = minicloud(tmp_path, url, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert "usage:" in done.stderr and "store" not in done.stderr, (args, done.stderr)
    done = minicloud(tmp_path, url, "topology")  # this one needs it, and says so
    assert done.returncode == 2 and "Traceback" not in done.stderr

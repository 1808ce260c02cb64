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


def test_help_and_usage_errors_import_no_database_cloud_or_json_library(tmp_path: Path) -> None:
    """What keeps them at a tenth of `openstack --version`, counted in modules, not timed."""
    import json
    import subprocess
    import sys

    heavy = ["sqlalchemy", "dataset", "sqlite3", "orjson", "openstack", "keystoneauth1", "cs",
             "requests"]
    script = (
        "import json, sys\n"
        "from minicloud.cli.main import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]), file=sys.stderr)\n")
    for args in (["help"], ["instances", "create", "--help"], ["instances", "create"]):
        done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                              text=True, env={"MINICLOUD_HOME": str(tmp_path),
                                              "PATH": "/usr/bin:/bin"}, cwd=tmp_path)
        assert json.loads(done.stderr.strip().splitlines()[-1]) == [], (args, done.stderr)

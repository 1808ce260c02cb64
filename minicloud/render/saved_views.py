"""Each cloud's part of the whole-store views, saved in the home folder and used again while
the cloud's generation has not moved.

A cloud's generation is bumped by every write of its rows, by any session (cache.Inventory.
write), so a part saved at generation G is what rendering that cloud's rows gives for as long
as the store says G.  ``topology`` on a 30,000-instance store then reads the clouds' rows and
the saved parts, and renders only the clouds that changed since.

The key is the store's id (a store made again from nothing starts its generations again), the
cloud, its generation and the code that rendered the part (a new MiniCloud, or an edited one,
never reads an older part).  A part that cannot be read or written is simply rendered: these
files are a copy of what the store says, never a source.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from .. import __version__
from ..model import json_text

log = logging.getLogger(__name__)

FOLDER = "views"


@cache
def code_key() -> str:
    """The package's version and the size and time of each of its modules."""
    package = Path(__file__).parent
    stats = []
    for path in sorted(package.rglob("*.py")):
        try:
            st = path.stat()
        except OSError:
            continue
        stats.append((str(path.relative_to(package)), st.st_mtime_ns, st.st_size))
    return hashlib.sha1(repr((__version__, stats)).encode()).hexdigest()[:16]


def _file_name(view: str, cloud: str) -> str:
    # Any cloud name makes a short, safe file name.
    digest = hashlib.sha1(cloud.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return f"{view}-{digest}.json"


class SavedViews:
    """Parts of the views of one store, under ``HOME/views/STORE_ID/``."""

    def __init__(self, home: Path, store_id: str | None) -> None:
        # No id (a store no MiniCloud has opened for writing yet): nothing is saved.
        self.folder = home / FOLDER / store_id if store_id and store_id.isalnum() else None

    def _path(self, view: str, cloud: str) -> Path | None:
        if self.folder is None:
            return None
        return self.folder / _file_name(view, cloud)

    def get(self, view: str, cloud: str, generation: int) -> Any | None:
        """The part saved for that generation of ``cloud``, or None."""
        path = self._path(view, cloud)
        if path is None:
            return None
        try:
            saved = json_text.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.debug("saved view %s not read: %s", path, exc)
            return None
        if not isinstance(saved, dict) or saved.get("key") != [cloud, generation, code_key()]:
            return None
        return saved.get("part")

    def put(self, view: str, cloud: str, generation: int, part: Any) -> None:
        """Save a part (replacing the cloud's older one), all at once or not at all."""
        path = self._path(view, cloud)
        if path is None:
            return
        data = json_text.dumps_bytes({"key": [cloud, generation, code_key()], "part": part})
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as exc:
            log.debug("saved view %s not written: %s", path, exc)

    def keep_only(self, view: str, clouds: list[str]) -> None:
        """Delete the parts of clouds that are gone (removed, or all data destroyed)."""
        if self.folder is None:
            return
        wanted = {_file_name(view, cloud) for cloud in clouds}
        try:
            for path in self.folder.glob(f"{view}-*.json"):
                if path.name not in wanted:
                    path.unlink(missing_ok=True)
        except OSError as exc:
            log.debug("saved views in %s not pruned: %s", self.folder, exc)

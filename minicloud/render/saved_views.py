"""Each cloud's part of the whole-store views, saved in the home folder and used again while
the cloud's rows are those it was rendered from.

A cloud's generation is bumped by every write of its rows, by any session (cache.Inventory.
write), and a random token is written with it in the same transaction (Store.bump).  The
generation and the token (the cloud's *stamp*) name one state of the cloud's rows among all
the states they were ever in, in this store and in every copy of it: a backup put back and
written again, or a copy of the same store written elsewhere, counts to the same generations
with other tokens.  A part saved under a stamp is what rendering that cloud's rows gives for
as long as the store shows that stamp.  ``topology`` on a 30,000-instance store then reads
the clouds' rows and the saved parts, and renders only the clouds that changed since.

The key is the store's id (parts of other stores are kept apart), the cloud, its stamp and
the code that rendered the part (a new MiniCloud, or an edited one, never reads an older
part).  A cloud with no stamp (an older MiniCloud wrote it last) is rendered and not saved.
A part that cannot be read or written is simply rendered: these files are a copy of what the
store says, never a source.
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

    def get(self, view: str, cloud: str, stamp: str) -> Any | None:
        """The part saved for that stamp of ``cloud`` (generation and token), or None."""
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
        if not isinstance(saved, dict) or saved.get("key") != [cloud, stamp, code_key()]:
            return None
        return saved.get("part")

    def put(self, view: str, cloud: str, stamp: str, part: Any) -> None:
        """Save a part (replacing the cloud's older one), all at once or not at all."""
        path = self._path(view, cloud)
        if path is None:
            return
        data = json_text.dumps_bytes({"key": [cloud, stamp, code_key()], "part": part})
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

"""What a front end may check before it opens the store, in a few milliseconds: that an
SQLite store file is an SQLite database whose schema can be read (the menu says so before it
is drawn, rather than at the first entry).  Nothing else of the store is opened or imported:
this module is the front ends' way to it, so that they need not know the state layer.
"""

from __future__ import annotations

from ..state.dburl import StoreURL
from ..state.sqlite_read import check_sqlite_file


def check_store(url: str | StoreURL) -> None:
    """One StoreError line when ``url`` names an SQLite file that is no database or whose
    schema cannot be read; anything else (an absent file, a server) is left to the first
    open of the store."""
    check_sqlite_file(url)

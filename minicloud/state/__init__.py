"""The state: MiniCloud's store and everything that reads or writes it.

``store`` (SQLAlchemy Core on SQLite or MySQL: connections, transactions, locks, generations),
``table`` and ``schema`` (rows, and the tables made and repaired), ``sqlite_read`` (fast
read-only reads of an SQLite file), ``dburl`` (store URLs, one or a cluster's nodes: made,
checked, shown without a password, failures explained), ``retry`` (which failures run a
transaction again), ``meta`` (the meta rows and what each must hold), ``signals`` (Ctrl-C and
TERM held back while a commit runs), ``cache`` (the object cache kept in step with the store),
and the one write path: ``unit_of_work`` (locks, incarnations, intents checked and recorded,
then settled), ``claims`` (what a write takes, each with one check), ``listing`` (what a sync
may write) and ``intents`` (whose an intent is, and whether its owner is gone).  It knows the
model, never a driver,
a manager or a front end.  This ``__init__`` imports nothing: help and the menu's first screen
stay free of database libraries.
"""

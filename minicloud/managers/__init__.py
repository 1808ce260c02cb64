"""The managers: every rule of MiniCloud, each manager with its job.

``clouds``, ``routers``, ``networks``, ``instances`` and ``access`` (and ``groups``) check and
make every change, with undo on failure; ``reconciler`` reads clouds back (sync, refresh,
drift); ``recovery`` settles what killed processes left pending; ``reset`` undoes what
MiniCloud did; ``session`` holds one user's store, cache, unit of work and drivers;
``catalog`` and ``precheck`` answer the front ends before any store is opened; ``demo`` builds
the demo through the managers.  They use the state, the
drivers and the rendering below them, never a front end or the app.  This ``__init__`` imports
nothing: help and the menu's first screen load only the module they ask for.
"""

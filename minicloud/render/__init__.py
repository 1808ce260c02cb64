"""Rendering: a Deployment (or one cloud's part of it) into what a user reads.

``topology`` (the tree), ``views`` (the JSON views), ``topology_graph`` (the tree's objects as
one graph) drawn by ``topology_dot`` (Graphviz DOT) and ``topology_mermaid`` (a Mermaid
flowchart): pure functions of the model, no store, no driver, no remote call.  ``saved_views``
keeps each cloud's rendered part in ``$MINICLOUD_HOME/views/`` (its only I/O), to be used again
while the cloud's generation stays.
"""

# What a topology can be rendered as (managers/topology.py renders each; a front end offers them).
FORMATS = ("text", "json", "dot", "mermaid")

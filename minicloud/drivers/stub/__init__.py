"""The Stub: a complete simulated cloud (type ``stub``), for trying MiniCloud and for tests.

``driver`` (the Driver: declarations, servers, security groups, key pairs), ``network`` (its
plumbing, networks, routers, public IPs) and ``state`` (its simulated objects in ``stub_*``
tables of MiniCloud's store, and its fault injection).  The registry names
``driver:StubDriver``; this ``__init__`` imports nothing.
"""

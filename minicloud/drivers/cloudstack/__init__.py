"""Apache CloudStack (type ``cloudstack``), through the ``cs`` client.

``driver`` (the Driver: settings, features, servers, the full sync), ``network`` (VPCs as
routers, isolated networks and tiers, public IPs), ``access`` (security groups as firewall and
ACL rules, static NAT), ``session`` (the client from cloudstack.ini or the cloud's settings,
the one place API calls run, jobs, tags, rollback), ``convert`` (API answers to model objects)
and ``errors`` (the one translation of ``cs`` failures).  The registry names
``driver:CloudStackDriver``; this ``__init__`` imports nothing.
"""

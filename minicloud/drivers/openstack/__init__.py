"""OpenStack (type ``openstack``), through openstacksdk.

``driver`` (the Driver: settings, features, servers, the full sync), ``network`` (Neutron:
networks, routers, floating IPs, security groups), ``session`` (the Connection from clouds.yaml
or the cloud's settings, the one place SDK calls run, rollback, the ownership tag), ``convert``
(API bodies to model objects) and ``errors`` (the one translation of SDK failures).  The
registry names ``driver:OpenStackDriver``; this ``__init__`` imports nothing (openstacksdk is
imported only when a request is made).
"""

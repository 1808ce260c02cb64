"""An ML2 mechanism driver that binds every port (MiniCloud's functional tests only).

The test stack has no L2 agents, so no real mechanism driver can bind a port and Nova fails
with ``PortBindingFailed``; Neutron's in-tree ``test`` driver asserts on things this stack does
not set up.  This one accepts the first segment offered and reports an OVS port that is up:
there is no data plane behind it, which is fine for Nova's ``fake`` hypervisor.
"""

from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api


class BindAllMechanismDriver(api.MechanismDriver):
    """Binds every port to the first segment, as an OVS port with no filtering."""

    def initialize(self):
        pass

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            context.set_binding(segment[api.ID], portbindings.VIF_TYPE_OVS,
                                {portbindings.CAP_PORT_FILTER: False,
                                 portbindings.OVS_HYBRID_PLUG: False},
                                status=constants.PORT_STATUS_ACTIVE)
            return

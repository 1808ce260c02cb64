"""The product README's reference tree (DESIGN.md section 4), shared by every test of it."""

REFERENCE_TREE = """\
      MiniCloud
      |
      +---Compute
      |   |
      |   +---Cloud: TryStack (trystack.org)
      |       |
      |       +---Cluster: Antwerp
      |       |   |
      |       |   +---Instance: Bourla [10.10.1.12] (AntwerpNet) [default] [ACTIVE]
      |       |
      |       +---Cluster: London
      |           |
      |           +---Instance: Tower [10.10.2.5] (LondonNet) [public_ssh] [8.21.28.30] [ACTIVE]
      |           +---Instance: Ben [10.10.2.6] (LondonNet) [default] [ACTIVE]
      |
      +---Networking
          |
          +---Router: LondonGateway (external)
          |   |
          |   +---Network: LondonNet [10.10.2.0/24] (2 instances)
          |   +---Network: external (external) [trystack]
          |
          +---Network: AntwerpNet [10.10.1.0/24] (1 instance)
"""

# The demo after Reset to startup: clouds, clusters and the pre-existing external network stay.
AFTER_RESET_TREE = """\
      MiniCloud
      |
      +---Compute
      |   |
      |   +---Cloud: TryStack (trystack.org)
      |       |
      |       +---Cluster: Antwerp
      |       +---Cluster: London
      |
      +---Networking
          |
          +---Network: external (external) [trystack]
"""

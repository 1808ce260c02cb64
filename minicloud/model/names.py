"""Names MiniCloud gives things in every cloud (kept apart from the model so that the command
line can name them without importing it)."""

# MiniCloud's own SSH group: created on demand, once per cloud.
PUBLIC_SSH = "public_ssh"
DEFAULT_GROUP = "default"
# Key pairs carry no tags in Nova, so MiniCloud marks its own by name.
KEYPAIR_PREFIX = "minicloud-"

"""Input rules shared by every client and driver: names and CIDRs."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from .errors import ValidationError
from .printable import quoted

NAME_RULE = (
    "1-64 characters: letters (of any script), digits, '.', '_' or '-', starting with a "
    "letter or digit"
)
NAME_LENGTH = 64
_NAME_MARKS = "._-"


def valid_name(name: str) -> bool:
    """MiniCloud's own rule: letters of any script (é is a letter to a French user); a cloud
    type whose API takes fewer says so in its own rule (drivers' ``name_rules``)."""
    return (0 < len(name) <= NAME_LENGTH and name[0].isalnum()
            and all(ch.isalnum() or ch in _NAME_MARKS for ch in name))


def check_name(name: str, what: str = "name") -> str:
    if not isinstance(name, str) or not valid_name(name):
        raise ValidationError(f"invalid {what} {quoted(name)}: use {NAME_RULE}")
    return name


USER_RULE = ("1-32 characters: letters, digits, '.', '_' or '-', starting with a letter, "
             "digit or '_'")
# What ssh puts after "user@" reaches a shell and ssh's own option parser on the far side:
# no leading '-', no spaces, no shell metacharacters.
_USER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,31}")


def check_login_user(user: str, source: str = "login user") -> str:
    """A user name ssh may log in as; ``source`` says where it came from."""
    if not isinstance(user, str) or not _USER_RE.fullmatch(user):
        raise ValidationError(f"invalid {source} {quoted(user)}: use {USER_RULE}")
    return user


def check_optional_name(name: str, what: str = "name") -> str:
    """Empty, or a valid name."""
    return check_name(name, what) if name else name


def parse_cidr(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A network address with a prefix that leaves room for hosts, e.g. ``10.0.0.0/24``."""
    text = text.strip()
    shown = quoted(text, 45)
    if "/" not in text:
        raise ValidationError(f"invalid CIDR {shown}: write an address and a prefix, "
                              "e.g. 10.0.0.0/24")
    try:
        net = ipaddress.ip_network(text, strict=False)
        given = ipaddress.ip_address(text.split("/")[0])
    except ValueError:
        raise ValidationError(f"invalid CIDR {shown}: write an address and a prefix, "
                              "e.g. 10.0.0.0/24") from None
    if given != net.network_address:
        raise ValidationError(f"{shown} has host bits set: did you mean {net}?")
    if net.num_addresses < 4:
        raise ValidationError(f"{net} is too small: use a prefix of /{net.max_prefixlen - 2} "
                              "or shorter")
    return net


def check_no_overlap(cidr: str, taken: list[tuple[str, str]], where: str = "") -> None:
    """The overlap rule (one place for it): ``cidr`` overlaps none of the ``(name, cidr)``
    networks ``taken`` of the same IP version; ``where`` ends the refusal (`` in cloud C``)."""
    net = ipaddress.ip_network(cidr, strict=False)
    for name, text in taken:
        try:
            theirs = ipaddress.ip_network(text, strict=False)
        except ValueError:
            continue
        if theirs.version == net.version and net.overlaps(theirs):
            raise ValidationError(f"{net} overlaps {name} ({theirs}){where}")


LOCATION_LENGTH = 255


def check_location(text: str) -> str:
    """Where a cloud is: printable text of at most 255 characters (it is drawn in the tree)."""
    if len(text) > LOCATION_LENGTH:
        raise ValidationError(f"location too long ({LOCATION_LENGTH} characters at most)")
    if not text.isprintable():
        raise ValidationError("a location is printable text: no control characters or "
                              "line breaks")
    return text


def check_http_url(value: str, what: str, example: str) -> str:
    """An http(s) URL with a host (an API's endpoint), stripped; refused in one line naming
    ``what`` and showing ``example``."""
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"invalid {what} {quoted(value, 60)}: "
                              f"write http(s)://HOST[:PORT]/PATH, e.g. {example}")
    return value

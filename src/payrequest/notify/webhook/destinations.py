"""Where an outgoing webhook (a flow's action, an organisation's webhook endpoint) may go:
http(s) only, and only to globally reachable addresses — never this machine, the private
network, shared address space (100.64.0.0/10, where some clouds keep their metadata service),
link-local, multicast or reserved addresses, nor IPv6 addresses that embed an IPv4 one
(IPv4-mapped, 6to4, Teredo, NAT64) — unless the host is allowlisted in
`PAYREQUEST_AUTOMATIONS__WEBHOOK_ALLOW` (host names, IP addresses or networks such as
`10.1.0.0/16`). Checked when a URL is saved and again before every delivery (DNS changes); the
delivery then connects to an address this check returned, never to a second lookup's answer
(see `sender`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from payrequest.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

METADATA = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))
# IPv6 ranges that carry or reach an IPv4 address through a relay or translator: 6to4, Teredo,
# NAT64 (well-known and local-use prefixes) and the deprecated IPv4-compatible addresses.
EMBEDDING = tuple(
    ipaddress.IPv6Network(net)
    for net in ("2002::/16", "2001::/32", "64:ff9b::/96", "64:ff9b:1::/48", "::/96")
)
# IETF protocol assignments that older Pythons count as global (192.0.0.8, 192.0.0.9, ...).
SPECIAL = (ipaddress.IPv4Network("192.0.0.0/24"),)


class DestinationRefused(ValidationFailed):
    """The webhook URL is not allowed."""


async def resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def forbidden(address: IPAddress) -> bool:
    """Anything but a plain, globally reachable unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return forbidden(address.ipv4_mapped)
        if any(address in net for net in EMBEDDING):
            return True
    elif any(address in net for net in SPECIAL):
        return True
    return (
        not address.is_global  # 100.64.0.0/10 and every special-purpose range
        or address in METADATA
        or address.is_loopback
        or address.is_private  # 10/8, 172.16/12, 192.168/16, fc00::/7 (fd00:ec2::254), ...
        or address.is_link_local  # 169.254.0.0/16, fe80::/10
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    )


def _allowed(host: str, addresses: Iterable[IPAddress], allow: Iterable[str]) -> bool:
    entries = [entry.strip().lower() for entry in allow if entry.strip()]
    if host.lower() in entries:
        return True
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            continue
    found = list(addresses)
    return bool(found) and all(any(a in net for net in networks) for a in found)


async def check_url(
    url: str, *, allow: Iterable[str] = (), resolver: Resolver = resolve
) -> list[str]:
    """The addresses the URL's host resolves to, from one lookup; raises DestinationRefused if
    any is not allowed. A host on the allowlist (by name or by network) passes whatever it
    resolves to. A delivery connects only to these addresses."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # an unclosed [IPv6 literal
        raise DestinationRefused("The webhook URL is not a valid address", field="url") from None
    if parts.scheme not in ("http", "https"):
        raise DestinationRefused("Only http:// and https:// webhook URLs are allowed", field="url")
    host = parts.hostname
    if not host:
        raise DestinationRefused("The webhook URL has no host", field="url")
    if parts.username or parts.password:
        raise DestinationRefused("The webhook URL must not contain a password", field="url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise DestinationRefused("The webhook URL has an invalid port", field="url") from None
    allow = list(allow)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = await resolver(host, port)
        except (OSError, UnicodeError) as exc:  # UnicodeError: a name IDNA cannot encode
            raise DestinationRefused(
                "Cannot resolve %(host)s: %(detail)s", field="url", host=host, detail=str(exc)
            ) from None
        if not addresses:
            raise DestinationRefused("%(host)s has no address", field="url", host=host)
    parsed = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
    if _allowed(host, parsed, allow):
        return addresses
    bad = [str(a) for a in parsed if forbidden(a)]
    if bad:
        raise DestinationRefused(
            "%(host)s resolves to %(addresses)s, a loopback, private, link-local or metadata "
            "address; allow it with %(setting)s if that is intended",
            field="url",
            host=host,
            addresses=bad,
            setting="PAYREQUEST_AUTOMATIONS__WEBHOOK_ALLOW",
        )
    return addresses

"""Outbound webhook requests that reach public addresses only.

The target's name is resolved when the request is sent, every address it resolves to is
checked, and the connection is made to the checked address (the name goes only into the
Host header and TLS server name): a name that resolves to a public address when the
endpoint is saved and to 127.0.0.1 when the alert is sent (DNS rebinding) is refused.
"""

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

MAX_URL_LENGTH = 2000
MAX_RESPONSE_BYTES = 64 * 1024  # read and kept of a receiver's answer; the rest is not read
# Cloud metadata services that are not in a private or link-local range.
METADATA_ADDRESSES = {ipaddress.ip_address("100.100.100.200"), ipaddress.ip_address("fd00:ec2::254")}


class Refused(Exception):
    """The URL may not be called; the message says why, for the trader."""


class SendFailed(Exception):
    """The request was made and failed (timeout, refused connection, an error status)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query


def url_display(url: str) -> str:
    """scheme://host/… — what a log or page may show of a URL whose path may be a credential."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{'/…' if parts.path.strip('/') or parts.query else ''}"[:120]


def parse(url: str) -> Target:
    """The URL's parts; raises Refused for anything but a plain http(s) URL."""
    if not isinstance(url, str) or not url:
        raise Refused("Enter a URL.")
    if len(url) > MAX_URL_LENGTH:
        raise Refused(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise Refused("The URL contains spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused("The URL is not valid.") from None
    if parts.scheme not in ("http", "https"):
        raise Refused("Only http:// and https:// URLs can receive alerts.")
    if not parts.hostname:
        raise Refused("The URL has no host.")
    if parts.username or parts.password:
        raise Refused("Put credentials in the URL's path or query, not before the host.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path)


def address_refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (this includes cloud metadata services)"
    if address.is_private or address.is_reserved or address.is_multicast or address.is_unspecified:
        return "a private or reserved address"
    if not address.is_global:
        return "an address that is not public"
    return None


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Refused(f"The name {host} does not resolve.") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def checked_address(target: Target) -> str:
    """The address to connect to; raises Refused when any address of the name is not public
    (unless ALERTS_WEBHOOK_ALLOW_PRIVATE lets a test reach its local receiver)."""
    addresses = resolve(target.host, target.port)
    if not addresses:
        raise Refused(f"The name {target.host} does not resolve.")
    if settings.ALERTS_WEBHOOK_ALLOW_PRIVATE:
        return addresses[0]
    for text in addresses:
        if reason := address_refusal(ipaddress.ip_address(text.split("%")[0])):
            raise Refused(f"{target.host} points at {reason}; alerts go to public addresses only.")
    return addresses[0]


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a checked address, with the certificate verified for the URL's name."""

    def __init__(self, address: str, hostname: str, port: int, timeout: float) -> None:
        super().__init__(hostname, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, address: str, hostname: str, port: int, timeout: float) -> None:
        super().__init__(hostname, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST `body`; returns the status and at most MAX_RESPONSE_BYTES of the answer.

    Raises Refused before any connection for a URL that may not be called, SendFailed for
    a network error, a timeout (ALERTS_WEBHOOK_TIMEOUT_S per step and in all) or a status
    outside 2xx."""
    target = parse(url)
    address = checked_address(target)
    timeout = settings.ALERTS_WEBHOOK_TIMEOUT_S
    deadline = time.monotonic() + timeout
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = kind(address, target.host, target.port, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        received = bytearray()
        while len(received) < MAX_RESPONSE_BYTES:
            if time.monotonic() > deadline:
                raise SendFailed(f"timed out after {timeout:g} s reading the answer")
            chunk = response.read1(min(8192, MAX_RESPONSE_BYTES - len(received)))
            if not chunk:
                break
            received += chunk
    except TimeoutError:
        raise SendFailed(f"timed out after {timeout:g} s") from None
    except (OSError, http.client.HTTPException) as error:
        raise SendFailed(f"connection failed: {type(error).__name__}") from None
    finally:
        connection.close()  # a 50 MB answer is cut here, not read
    if not 200 <= response.status < 300:
        raise SendFailed(f"HTTP {response.status} from the receiver")
    return response.status, bytes(received)

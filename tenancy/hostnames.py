"""Hostname rules for tenant custom domains and for matching the ``Host`` header.

Custom domains are stored in their ASCII (punycode, IDNA 2008 with UTS #46
mapping) form, lowercased and without a trailing dot, because that is what
browsers send in ``Host``: ``bücher.example`` is stored and matched as
``xn--bcher-kva.example``. IP addresses, ``localhost`` and names under the
special-use ``localhost`` zone (RFC 6761) are refused as custom domains:
they cannot be claimed by one tenant.
"""

from __future__ import annotations

import ipaddress

import idna

from tenancy.errors import validation_error

MAX_HOSTNAME_LENGTH = 253  # RFC 1035, in ASCII form without the trailing dot


def to_ascii_hostname(raw: str) -> str | None:
    """The lowercase ASCII (punycode) form of a hostname, or ``None`` if it is not one.

    Accepts Unicode or punycode input (``Bücher.example.``); IP literals are
    returned unchanged (lowercased) so that callers can recognise them.
    """
    host = raw.rstrip(".")
    if not host or any(ch.isspace() for ch in host):  # also a trailing newline
        return None
    if _is_ip(host):
        return host.lower()
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None
    if len(ascii_host) > MAX_HOSTNAME_LENGTH:
        return None
    return ascii_host.lower()


def host_from_header(header: str) -> str | None:
    """The hostname of a ``Host`` header value (port and IPv6 brackets removed), ASCII form."""
    value = header
    if value.startswith("["):  # [::1]:8000
        return value[1 : value.find("]")].lower() if "]" in value else None
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return to_ascii_hostname(value)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def check_custom_domain(raw: str, base_domain: str, field: list[str]) -> str:
    """Validate a tenant's custom domain and return its stored (ASCII) form.

    Args:
        raw: what the admin typed (Unicode or punycode, any case, optional trailing dot).
        base_domain: the platform's own domain; names under it come with the slug.
        field: the input path reported on failure.

    Raises:
        AppError(VALIDATION_FAILED) for anything that is not a public DNS
        name of at least two labels: IP addresses, ``localhost`` (and
        ``*.localhost``), names under ``base_domain``, invalid IDNA labels.
    """
    host = to_ascii_hostname(raw)
    if host is None:
        raise validation_error(field, f"{raw!r} is not a valid hostname")
    if _is_ip(host):
        raise validation_error(field, f"{raw!r} is an IP address; a custom domain must be a name")
    if host == "localhost" or host.endswith(".localhost"):
        raise validation_error(field, f"{raw!r} is a local name, not a public domain")
    if "." not in host:
        raise validation_error(field, f"{raw!r} needs at least two labels, e.g. example.com")
    base = to_ascii_hostname(base_domain) or base_domain.lower()
    if host == base or host.endswith("." + base):
        raise validation_error(
            field, f"{raw!r} is under the platform domain; subdomains come with the slug"
        )
    return host

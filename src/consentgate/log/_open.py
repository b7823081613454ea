"""``open_log``: the consent log a store URL names.

The one module that knows both stores; they import the core, never each other.
"""

from __future__ import annotations

from .._exceptions import ConfigurationError
from ._base import ConsentLog
from ._postgres import PostgresConsentLog, require_driver
from ._sqlite import SQLiteConsentLog

__all__ = ["check_store_url", "open_log"]

_EXAMPLES = (
    'use "sqlite:///consentgate.db" (relative to the working directory), '
    '"sqlite:////var/lib/app/consentgate.db" (absolute), "sqlite:///:memory:" '
    'or "postgresql://user:password@host/dbname"'
)
_POSTGRES_SCHEMES = ("postgresql", "postgres")


def open_log(url: str, *, timeout: float = 5.0, chain_key: str | bytes | None = None) -> ConsentLog:
    """Make the consent log that ``url`` names, without opening it yet.

    Nothing touches the filesystem or the network here, because this runs
    when the app is configured; the database is opened (and created or
    migrated) on first use. ``chain_key`` keys the chain's hashes (see ``_chain``).
    """
    target = check_store_url(url)
    if _is_postgres(url):
        return PostgresConsentLog(target, timeout=timeout, chain_key=chain_key)
    return SQLiteConsentLog(target, timeout=timeout, chain_key=chain_key)


def check_store_url(url: str) -> str:
    """Check a consent log URL without opening the log; returns what its store takes.

    That is the database path of a ``sqlite:///<path>`` URL (``:memory:``
    included), or the libpq URL of a ``postgresql://`` (or ``postgres://``)
    one, its scheme in lower case. Raises ConfigurationError for anything
    else, and for a PostgreSQL URL when the ``postgres`` extra is missing.
    """
    if "://" not in url:
        raise ConfigurationError("store", f"{url!r} is not a consent log URL; {_EXAMPLES}")
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme.partition("+")[0] in _POSTGRES_SCHEMES:
        return _check_postgres_url(scheme, rest)
    if scheme != "sqlite":
        raise ConfigurationError(
            "store", f"unsupported consent log URL scheme {scheme!r}; {_EXAMPLES}"
        )
    if rest and not rest.startswith("/"):
        raise ConfigurationError(
            "store", f"{url!r} names a host, but SQLite URLs take none; {_EXAMPLES}"
        )
    path = rest[1:]
    if not path:
        raise ConfigurationError("store", f"{url!r} has no database path; {_EXAMPLES}")
    if "?" in path or "#" in path:
        raise ConfigurationError(
            "store", f"{url!r} has a query or fragment, which is not supported; {_EXAMPLES}"
        )
    return path


def _is_postgres(url: str) -> bool:
    return url.partition("://")[0].lower() in _POSTGRES_SCHEMES


def _check_postgres_url(scheme: str, rest: str) -> str:
    """Parse a PostgreSQL URL as libpq would, without connecting; never echo its password."""
    if scheme not in _POSTGRES_SCHEMES:
        raise ConfigurationError(
            "store",
            f"{scheme!r}: consentgate talks to PostgreSQL through psycopg itself, so name no "
            'driver; use "postgresql://user:password@host/dbname"',
        )
    require_driver()
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    url = f"{scheme}://{rest}"
    try:
        params = conninfo_to_dict(url)
    except ProgrammingError as exc:
        problem = str(exc).strip()
    else:
        ports = str(params.get("port") or "5432").split(",")
        if all(port.isdigit() and 0 < int(port) < 65536 for port in ports):
            return url
        problem = f"port {params['port']!r} is no port number"
    raise ConfigurationError(
        "store",
        f'not a valid PostgreSQL URL ({problem}); use "postgresql://user:password@host:5432/dbname"',
    )

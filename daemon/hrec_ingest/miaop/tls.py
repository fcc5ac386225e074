"""The one SSL context of the process: system CAs plus CA_BUNDLE, optional client certificate."""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import NoReturn

import structlog

from hrec_ingest.miaop.errors import TlsConfigError

log = structlog.get_logger(__name__)


def make_ssl_context(
    verify: bool,
    ca_bundle: Path | None,
    client_cert: Path | None,
    client_key: Path | None,
) -> ssl.SSLContext:
    """An SSL context that verifies servers against the system CAs and ``ca_bundle``.

    ``verify=False`` switches verification off (hostname and chain) and says
    so once, as a warning, because it is only for tests. ``client_cert`` (with
    ``client_key``, or a PEM holding both) enables mutual TLS. A file that is
    missing, unreadable or not PEM raises TlsConfigError naming the setting.

    Example:
        >>> ctx = make_ssl_context(True, None, None, None)
        >>> ctx.verify_mode == ssl.CERT_REQUIRED
        True
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if ca_bundle is not None:
        _check_readable("CA_BUNDLE", ca_bundle)
        try:
            context.load_verify_locations(cafile=str(ca_bundle))
        except (ssl.SSLError, ValueError) as exc:
            raise TlsConfigError(
                f"CA_BUNDLE: {ca_bundle} holds no usable PEM CA certificate ({exc})"
            ) from None
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        log.warning(
            "tls.verify_disabled",
            detail="TLS_VERIFY=false: server certificates are not checked; for testing only",
        )
    if client_key is not None and client_cert is None:
        raise TlsConfigError("CLIENT_CERT: must be set when CLIENT_KEY is set")
    if client_cert is not None:
        _load_client_cert(context, client_cert, client_key)
    return context


def _load_client_cert(context: ssl.SSLContext, cert: Path, key: Path | None) -> None:
    _check_readable("CLIENT_CERT", cert)
    if key is not None:
        _check_readable("CLIENT_KEY", key)
    try:
        context.load_cert_chain(
            certfile=str(cert), keyfile=str(key) if key else None, password=_refuse_password
        )
    except TlsConfigError:
        raise
    except (ssl.SSLError, ValueError) as exc:
        setting = "CLIENT_CERT/CLIENT_KEY" if key else "CLIENT_CERT"
        raise TlsConfigError(
            f"{setting}: {cert}{f' / {key}' if key else ''} is not a PEM certificate with "
            f"its matching private key ({exc})"
        ) from None


def _refuse_password() -> NoReturn:
    # Without this callback OpenSSL would prompt on the terminal for an encrypted key.
    raise TlsConfigError("CLIENT_KEY: the private key is encrypted; give an unencrypted PEM key")


def _check_readable(setting: str, path: Path) -> None:
    if not path.is_file():
        raise TlsConfigError(f"{setting}: {path} does not exist or is not a file")
    if not os.access(path, os.R_OK):
        raise TlsConfigError(f"{setting}: {path} is not readable by this process")

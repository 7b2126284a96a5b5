"""Baton's own TLS: the certificate and key a role serves with (``--tls-cert``/``--tls-key``).

The gateway then serves ``wss://`` and the console ``https://``, without a proxy in front. Both
files are checked once, at start-up, by building the server's ``ssl.SSLContext``: a missing or
unreadable file, a file that is not PEM, a key that does not belong to the certificate, or only
one of the two given is a ``ConfigError`` naming the cause and the fix, before anything listens.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from streams.exceptions import ConfigError

_FLAGS = "--tls-cert PATH --tls-key PATH (or BATON_TLS_CERT and BATON_TLS_KEY)"


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsFiles:
    """The PEM files a role serves TLS with."""

    cert: Path
    """The certificate chain: the server's certificate first, then any intermediates."""
    key: Path
    """The certificate's private key, unencrypted (Baton asks for no passphrase)."""

    @classmethod
    def from_paths(cls, cert: Path | None, key: Path | None) -> TlsFiles | None:
        """Both paths, or neither (``None``: the role serves in clear).

        Raises:
            ConfigError: only one of the two is given.
        """
        if cert is None and key is None:
            return None
        if cert is None or key is None:
            given, missing = (
                ("a TLS certificate (--tls-cert)", "its key (--tls-key)")
                if key is None
                else ("a TLS key (--tls-key)", "its certificate (--tls-cert)")
            )
            raise ConfigError(
                f"{given} is given without {missing}",
                fix=f"give both {_FLAGS}, or neither to serve without TLS",
            )
        return cls(cert=cert, key=key)

    def server_context(self) -> ssl.SSLContext:
        """A server-side context serving this certificate (TLS 1.2 or later).

        Raises:
            ConfigError: a file cannot be read, is not PEM, the key is encrypted or does not
                belong to the certificate.
        """
        _check_pem(self.cert, "certificate", "CERTIFICATE")
        _check_pem(self.key, "private key", "PRIVATE KEY")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            # An empty passphrase: an encrypted key fails here instead of prompting on a tty.
            context.load_cert_chain(self.cert, self.key, password=b"")
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(
                f"the TLS key {self.key} does not belong to the certificate {self.cert}, or one "
                f"of them is damaged ({_reason(exc)})",
                fix="give the PEM certificate and the unencrypted PEM private key that belongs "
                f"to it with {_FLAGS}",
            ) from exc
        return context


def _check_pem(path: Path, what: str, label: str) -> None:
    """Fail unless ``path`` reads as a PEM file holding a ``label`` block, unencrypted.

    Raises:
        ConfigError: it cannot be read, holds no such block, or is encrypted.
    """
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the TLS {what} {path} ({exc.strerror or exc})",
            fix=f"give a file Baton may read with {_FLAGS}",
        ) from exc
    if f"{label}-----".encode() not in text:
        raise ConfigError(
            f"the TLS {what} {path} is not a PEM {what} (no '-----BEGIN ...{label}-----' line)",
            fix=f"give the PEM {what} with {_FLAGS}",
        )
    if b"ENCRYPTED" in text:
        raise ConfigError(
            f"the TLS {what} {path} is encrypted, and Baton asks for no passphrase",
            fix=f"decrypt it (`openssl pkey -in KEY -out PLAIN_KEY`) and give that with {_FLAGS}",
        )


def _reason(exc: Exception) -> str:
    """OpenSSL's short reason (``KEY_VALUES_MISMATCH``) rather than its whole message."""
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return exc.reason.lower().replace("_", " ")
    return str(exc) or type(exc).__name__

"""``runtime.tls``: the files a role serves TLS with are checked once, each fault named."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from runtime.tls import TlsFiles
from streams.exceptions import ConfigError
from tests.self_signed import self_signed, stray_key


def test_neither_file_is_no_tls_and_both_make_a_server_context(tmp_path: Path) -> None:
    assert TlsFiles.from_paths(None, None) is None
    made = self_signed(tmp_path)
    files = TlsFiles.from_paths(made.cert, made.key)
    assert files is not None
    context = files.server_context()
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


@pytest.mark.parametrize(
    ("cert", "key", "message"),
    [
        (Path("c.pem"), None, "a TLS certificate (--tls-cert) is given without its key"),
        (None, Path("k.pem"), "a TLS key (--tls-key) is given without its certificate"),
    ],
)
def test_one_file_alone_is_refused(cert: Path | None, key: Path | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TlsFiles.from_paths(cert, key)


def test_each_bad_file_is_named(tmp_path: Path) -> None:
    made = self_signed(tmp_path)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    encrypted = tmp_path / "encrypted-key.pem"
    encrypted.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    cases = {
        (tmp_path / "missing.pem", made.key): "cannot read the TLS certificate",
        (garbage, made.key): f"the TLS certificate {garbage} is not a PEM certificate",
        (made.cert, made.cert): f"the TLS private key {made.cert} is not a PEM private key",
        (made.cert, encrypted): f"the TLS private key {encrypted} is encrypted",
        (made.cert, stray_key(tmp_path)): "does not belong to the certificate",
    }
    for (cert, key), message in cases.items():
        with pytest.raises(ConfigError) as caught:
            TlsFiles(cert=cert, key=key).server_context()
        assert message in str(caught.value), (cert, key, str(caught.value))
        assert "--tls-cert PATH --tls-key PATH" in caught.value.fix

"""What the library adds for HTTPS: the certificates a phone trusts for the county's server
(`set_trusted_certificates`), the public roots by default, and a server that refuses plain HTTP
telling the app so."""

import pytest

from conftest import CERT_PEM, PASSWORD, TLS_KEY, open_store


def test_a_phone_trusts_the_county_certificate_only_when_configured(ffi, server, tmp_path):
    store = ffi.FieldStore.open(str(tmp_path / "phone.db"), b"\x02" * 32)
    # The public roots by default: a self-signed certificate is not among them.
    with pytest.raises(ffi.FfiError.Network) as untrusted:
        store.login(server.url, "wang", PASSWORD)
    assert "certificate" in untrusted.value.reason.lower()
    # A private key is refused, as is anything that is not a PEM certificate.
    for bad in (TLS_KEY.read_text(), "not a certificate"):
        with pytest.raises(ffi.FfiError.InvalidInput) as refused:
            store.set_trusted_certificates(bad)
        assert refused.value.field == "pem"
    store.set_trusted_certificates(CERT_PEM)
    assert store.login(server.url, "wang", PASSWORD).role == "grid_worker"
    assert store.sync(server.url, None).rejected == 0
    # Back to the public roots.
    store.set_trusted_certificates(None)
    with pytest.raises(ffi.FfiError.Network):
        store.sync(server.url, None)


def test_plain_http_to_the_https_server_is_refused_with_a_code(ffi, server, tmp_path):
    store = open_store(tmp_path / "phone.db")
    plain = server.url.replace("https://", "http://")
    with pytest.raises(ffi.FfiError.InvalidInput) as refused:
        store.login(plain, "wang", PASSWORD)
    assert refused.value.reason.startswith("tls_required")
    assert store.signed_in() is None


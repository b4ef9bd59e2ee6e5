from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rankr_ghl.ghl.signatures import (
    GHL_ED25519_SPKI_B64,
    SignatureConfigError,
    SignatureError,
    SignatureVerifier,
    load_ed25519_key,
    parse_ed25519_keys,
)
from webhook_test_helpers import sign, spki_b64

BODY = b'{"type":"ContactCreate","locationId":"loc1","id":"c1"}'


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    # 2048 bits keeps the test fast; the verifier does not depend on the modulus size.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def rsa_sign(key: rsa.RSAPrivateKey, body: bytes) -> str:
    return base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_valid_ed25519_signature(verifier: SignatureVerifier, signing_key: Ed25519PrivateKey) -> None:
    result = verifier.verify(BODY, {"x-ghl-signature": sign(signing_key, BODY)})
    assert result.scheme == "ed25519"


def test_header_lookup_is_case_insensitive(
    verifier: SignatureVerifier, signing_key: Ed25519PrivateKey
) -> None:
    assert verifier.verify(BODY, {"X-GHL-Signature": sign(signing_key, BODY)}).scheme == "ed25519"


def test_forged_body_fails(verifier: SignatureVerifier, signing_key: Ed25519PrivateKey) -> None:
    with pytest.raises(SignatureError) as err:
        verifier.verify(BODY.replace(b"loc1", b"loc2"), {"x-ghl-signature": sign(signing_key, BODY)})
    assert err.value.reason == "invalid_signature"


def test_wrong_key_fails(verifier: SignatureVerifier, other_key: Ed25519PrivateKey) -> None:
    with pytest.raises(SignatureError) as err:
        verifier.verify(BODY, {"x-ghl-signature": sign(other_key, BODY)})
    assert err.value.reason == "invalid_signature"


@pytest.mark.parametrize("headers", [{}, {"x-ghl-signature": "N/A"}, {"x-ghl-signature": "  "}])
def test_missing_or_na_header(verifier: SignatureVerifier, headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError) as err:
        verifier.verify(BODY, headers)
    assert err.value.reason == "missing_signature"


@pytest.mark.parametrize("value", ["not base64!!", "YWJj", "A" * 2000])
def test_malformed_signature(verifier: SignatureVerifier, value: str) -> None:
    with pytest.raises(SignatureError) as err:
        verifier.verify(BODY, {"x-ghl-signature": value})
    assert err.value.reason == "malformed_signature"


def test_key_rotation_accepts_any_configured_key(
    signing_key: Ed25519PrivateKey, other_key: Ed25519PrivateKey
) -> None:
    verifier = SignatureVerifier(parse_ed25519_keys(f"{spki_b64(other_key)},{spki_b64(signing_key)}"))
    result = verifier.verify(BODY, {"x-ghl-signature": sign(signing_key, BODY)})
    assert result.key_index == 1


def test_default_is_ghls_published_key() -> None:
    (key,) = parse_ed25519_keys("")
    assert key.public_bytes_raw() == load_ed25519_key(GHL_ED25519_SPKI_B64).public_bytes_raw()
    # and our own key is NOT accepted by the default verifier
    own = Ed25519PrivateKey.generate()
    with pytest.raises(SignatureError):
        SignatureVerifier([key]).verify(BODY, {"x-ghl-signature": sign(own, BODY)})


def test_ghl_alias_and_pem_entries(signing_key: Ed25519PrivateKey) -> None:
    pem = (
        signing_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    keys = parse_ed25519_keys(pem.replace("\n", "\\n") + ",ghl")
    assert len(keys) == 2
    assert keys[1].public_bytes_raw() == load_ed25519_key(GHL_ED25519_SPKI_B64).public_bytes_raw()


@pytest.mark.parametrize("spec", ["garbage", "Zm9v", GHL_ED25519_SPKI_B64[:-8]])
def test_bad_key_configuration_is_a_config_error(spec: str) -> None:
    with pytest.raises(SignatureConfigError):
        parse_ed25519_keys(spec)


def test_rsa_key_in_ed25519_list_is_rejected(rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(SignatureConfigError):
        parse_ed25519_keys(rsa_pem(rsa_key).replace("\n", "\\n"))


def test_rsa_header_rejected_when_legacy_disabled(
    verifier: SignatureVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    with pytest.raises(SignatureError) as err:
        verifier.verify(BODY, {"x-wh-signature": rsa_sign(rsa_key, BODY)})
    assert err.value.reason == "legacy_signature_disabled"


def test_rsa_header_is_refused_even_with_the_ed25519_marker_absent(
    verifier: SignatureVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    with pytest.raises(SignatureError) as err:
        verifier.verify(BODY, {"x-wh-signature": rsa_sign(rsa_key, BODY), "x-ghl-signature": "N/A"})
    assert err.value.reason == "legacy_signature_disabled"


def test_a_valid_rsa_header_never_rescues_a_failed_ed25519(
    verifier: SignatureVerifier, other_key: Ed25519PrivateKey, rsa_key: rsa.RSAPrivateKey
) -> None:
    headers = {"x-ghl-signature": sign(other_key, BODY), "x-wh-signature": rsa_sign(rsa_key, BODY)}
    with pytest.raises(SignatureError) as err:
        verifier.verify(BODY, headers)
    assert err.value.reason == "invalid_signature"


def test_the_template_offers_no_rsa_switch() -> None:
    """The retired scheme's switch needed a key the template never passed; it is gone, not half-wired."""
    from pathlib import Path

    template = (Path(__file__).resolve().parents[3] / "template.yaml").read_text()
    assert "AllowLegacyRsaSignature" not in template and "RSA_PUBLIC_KEY" not in template


def test_root_builds_the_verifier_once_from_settings(signing_key: Ed25519PrivateKey) -> None:
    from rankr_ghl.config import Settings
    from rankr_ghl.wiring import Root

    env = {"WEBHOOK_PUBLIC_KEYS": spki_b64(signing_key), "SYNC_TABLE": "t", "WEBHOOK_QUEUE_URL": "q"}
    root = Root(Settings.from_env(env))
    first = root.webhook_intake()
    assert root.webhook_intake() is first
    assert first.verifier.verify(BODY, {"x-ghl-signature": sign(signing_key, BODY)}).scheme == "ed25519"


def test_a_bad_webhook_key_fails_the_cold_start_naming_its_variable() -> None:
    from rankr_ghl.config import ConfigError, Settings
    from rankr_ghl.wiring import Root

    root = Root(
        Settings.from_env({"WEBHOOK_PUBLIC_KEYS": "not-a-key", "SYNC_TABLE": "t", "WEBHOOK_QUEUE_URL": "q"})
    )
    with pytest.raises(ConfigError) as info:
        root.webhook_intake()
    assert "WEBHOOK_PUBLIC_KEYS" in str(info.value) and "not-a-key" not in str(info.value)

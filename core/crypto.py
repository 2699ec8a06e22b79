"""Authenticated encryption (AES-256-GCM) of the secrets stored in the database.

The keys come from `FIELD_ENCRYPTION_KEY`, a comma-separated list of base64-encoded 32-byte keys:
the first encrypts, every one decrypts, so a new key can be put in front while rows encrypted
under the old one are re-encrypted (`manage.py rotate_credentials_key`). They are deliberately not
derived from `SECRET_KEY`, so rotating one never locks the other out.

A stored value reads `gcm1$<key id>$<base64url(nonce + ciphertext + tag)>`: the key id (the start
of the key's SHA-256) names the key that decrypts it without revealing it.
"""

import base64
import binascii
import hashlib
import os
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables

PREFIX = "gcm1"
NONCE_BYTES = 12
KEY_BYTES = 32
# Used only when DEBUG is on and FIELD_ENCRYPTION_KEY is unset, so `make run` works with nothing
# configured. Everybody can read it here, so it protects nothing; production never falls back to it.
INSECURE_DEVELOPMENT_KEY = base64.b64encode(b"insecure-dev-key-only-when-DEBUG").decode()
GENERATE_COMMAND = 'python -c "import base64, os; print(base64.b64encode(os.urandom(32)).decode())"'


# Other apps' secrets under the same keys (accounts: the MFA secrets), re-encrypted by
# `rotate_credentials_key` too: name -> a function that re-encrypts them all under the newest key
# and returns (re-encrypted, already current). Registered in the apps' AppConfig.ready().
reencrypters: dict[str, Callable[[], tuple[int, int]]] = {}


class EncryptionKeyMissing(ImproperlyConfigured):
    """FIELD_ENCRYPTION_KEY is unset (outside DEBUG) or holds something that is not a key."""


class DecryptionFailed(ImproperlyConfigured):
    """A stored secret cannot be decrypted with any configured key, or was tampered with."""


def key_id(key: bytes) -> str:
    """Return a short, non-secret name for a key: the first 8 hex digits of its SHA-256."""
    return hashlib.sha256(key).hexdigest()[:8]


def parse_key(text: str, position: int = 1) -> bytes:
    """Decode one base64 key (standard or URL-safe alphabet) and check it is 32 bytes."""
    text = text.strip()
    try:
        key = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        # The message names the position, never the value, which may be most of a real key.
        raise EncryptionKeyMissing(
            f"FIELD_ENCRYPTION_KEY entry {position} is not a base64-encoded 32-byte key. "
            f"Generate one with: {GENERATE_COMMAND}"
        )
    return key


def configured_entries() -> list[str]:
    """Return FIELD_ENCRYPTION_KEY's entries as text, ignoring empty ones (a trailing comma)."""
    return [entry.strip() for entry in settings.FIELD_ENCRYPTION_KEY if entry.strip()]


def configured_keys() -> list[bytes]:
    """Return the keys from FIELD_ENCRYPTION_KEY, newest first; raise if there are none."""
    entries = configured_entries()
    if not entries:
        if settings.DEBUG:
            entries = [INSECURE_DEVELOPMENT_KEY]
        else:
            raise EncryptionKeyMissing(
                "FIELD_ENCRYPTION_KEY is not set, so the CDP API tokens stored in the database "
                "cannot be encrypted or decrypted. Set it to a base64-encoded 32-byte key "
                f"(generate one with: {GENERATE_COMMAND}); see docs/credentials.md."
            )
    return [parse_key(entry, position) for position, entry in enumerate(entries, start=1)]


def derived_key(purpose: str) -> tuple[str, bytes]:
    """Return the newest key's id and a key for `purpose` derived from it (HKDF-SHA256).

    A key per purpose, so a key that fingerprints tokens never also encrypts them.
    """
    key = configured_keys()[0]
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_info(purpose))
    return key_id(key), hkdf.derive(key)


def _info(purpose: str) -> bytes:
    return f"cdp-backoffice:derived:{purpose}".encode()


def _associated_data(purpose: str) -> bytes:
    # Binding the purpose means a ciphertext copied into another kind of field will not decrypt.
    return f"cdp-backoffice:{purpose}".encode()


@sensitive_variables("plaintext")
def encrypt(plaintext: str, *, purpose: str) -> str:
    """Encrypt text under the newest key and return the stored form."""
    key = configured_keys()[0]
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), _associated_data(purpose))
    payload = base64.urlsafe_b64encode(nonce + sealed).decode("ascii")
    return f"{PREFIX}${key_id(key)}${payload}"


def stored_key_id(stored: str) -> str:
    """Return the id of the key a stored value was encrypted under ("" if it is not one)."""
    parts = stored.split("$")
    return parts[1] if len(parts) == 3 and parts[0] == PREFIX else ""


@sensitive_variables("plaintext")
def decrypt(stored: str, *, purpose: str) -> str:
    """Decrypt a stored value with whichever configured key it names."""
    keys = {key_id(key): key for key in configured_keys()}
    wanted = stored_key_id(stored)
    if not wanted:
        raise DecryptionFailed("The stored secret is not in a format this app encrypts.")
    if wanted not in keys:
        raise DecryptionFailed(
            f"The stored secret was encrypted under key {wanted}, which FIELD_ENCRYPTION_KEY "
            "no longer holds. Put that key back at the end of the list and run "
            "`python manage.py rotate_credentials_key`, or enter the secret again."
        )
    try:
        raw = base64.urlsafe_b64decode(stored.split("$")[2])
        plaintext = AESGCM(keys[wanted]).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated_data(purpose)
        )
    except (InvalidTag, ValueError, binascii.Error):
        raise DecryptionFailed(
            f"The stored secret does not decrypt under key {wanted}: it was altered or "
            "copied from elsewhere. Enter the secret again."
        ) from None
    return plaintext.decode("utf-8")

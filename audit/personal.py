"""The cryptography of personal values in the audit log: one data key per person, crypto-shredding.

An audit entry about a person (an edit of their order consumer) keeps its personal values — the
old and new field values, the record's name at the time, the free-text reason — encrypted under
that person's *data key* (AES-256-GCM). The hash chain is taken over the ciphertext, so when the
person is erased the data key is destroyed (`AuditSubjectKey.objects.shred`): the values can never
be read again, while every entry still hashes as it did and `verify_audit` passes.

Data keys are stored in the database only *wrapped* (encrypted) under a key-encryption key (KEK)
that never is: `AUDIT_KEY` (base64 32-byte keys, comma-separated, the first wraps and all unwrap),
or when that is unset a key derived (HKDF-SHA256) from each `FIELD_ENCRYPTION_KEY` key. Whoever
holds the database alone, a backup or a dump included, cannot unwrap a data key. See
docs/privacy.md for storage, rotation (`manage.py rotate_audit_key`) and backups.

This module holds no model and touches no database: `audit.models` keeps the key store.
"""

import base64
import binascii
import hashlib
import hmac
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables

SEALED_PREFIX = "pv1$"
# Written in place of a personal value when the person's key was already shredded: a late entry
# about an erased person (a queued edit's failure, say) records that there was a value, not which.
ERASED_VALUE = "pv1$erased"
WRAPPED_PREFIX = "kw1"
KEY_BYTES = 32
NONCE_BYTES = 12
# Only with DEBUG and no key configured, so that `make run` works with nothing set up; everybody
# can read it here, so it protects nothing.
INSECURE_DEVELOPMENT_KEY = b"insecure-audit-kek-only-if-DEBUG"
GENERATE_COMMAND = 'python -c "import base64, os; print(base64.b64encode(os.urandom(32)).decode())"'

# What pages and exports show instead of a value that cannot be read.
ERASED_TEXT = "erased"
UNREADABLE_TEXT = "unreadable: its key is not in the key store"


class AuditKeyMissing(ImproperlyConfigured):
    """Neither AUDIT_KEY nor FIELD_ENCRYPTION_KEY holds a usable key-encryption key."""


def _parse(text: str, position: int, setting: str) -> bytes:
    try:
        key = base64.b64decode(text.strip().replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        # The position, never the value, which may be most of a real key.
        raise AuditKeyMissing(
            f"{setting} entry {position} is not a base64-encoded 32-byte key. "
            f"Generate one with: {GENERATE_COMMAND}"
        )
    return key


def _derive(key: bytes) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=None,
        info=b"cdp-backoffice:derived:audit-subject-keys",
    )
    return hkdf.derive(key)


def key_encryption_keys() -> list[bytes]:
    """Return the KEKs, newest first: AUDIT_KEY's, else ones derived from FIELD_ENCRYPTION_KEY."""
    own = [entry for entry in settings.AUDIT_KEY if entry.strip()]
    if own:
        return [_parse(entry, n, "AUDIT_KEY") for n, entry in enumerate(own, start=1)]
    field_keys = [entry for entry in settings.FIELD_ENCRYPTION_KEY if entry.strip()]
    if field_keys:
        return [
            _derive(_parse(entry, n, "FIELD_ENCRYPTION_KEY"))
            for n, entry in enumerate(field_keys, start=1)
        ]
    if settings.DEBUG:
        return [INSECURE_DEVELOPMENT_KEY]
    raise AuditKeyMissing(
        "Neither AUDIT_KEY nor FIELD_ENCRYPTION_KEY is set, so the personal values of audit "
        "entries cannot be encrypted. Set AUDIT_KEY to a base64-encoded 32-byte key (generate "
        f"one with: {GENERATE_COMMAND}); see docs/privacy.md."
    )


def kek_id(kek: bytes) -> str:
    """Return a short, non-secret name for a KEK: the first 8 hex digits of its SHA-256."""
    return hashlib.sha256(kek).hexdigest()[:8]


def new_data_key() -> bytes:
    return os.urandom(KEY_BYTES)


def _aad(kind: str, subject: str) -> bytes:
    # Binding the subject: a value or a wrapped key copied to another person's rows won't open.
    return f"cdp-backoffice:audit-{kind}:{subject}".encode()


def _pack(nonce: bytes, sealed: bytes) -> str:
    return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def _unpack(payload: str) -> tuple[bytes, bytes]:
    raw = base64.urlsafe_b64decode(payload)
    return raw[:NONCE_BYTES], raw[NONCE_BYTES:]


@sensitive_variables("data_key")
def wrap(data_key: bytes, subject: str) -> str:
    """Encrypt a data key under the newest KEK, for the key store."""
    kek = key_encryption_keys()[0]
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(kek).encrypt(nonce, data_key, _aad("key", subject))
    return f"{WRAPPED_PREFIX}${kek_id(kek)}${_pack(nonce, sealed)}"


def wrapped_kek_id(wrapped: str) -> str:
    """Return the id of the KEK a wrapped key is under ("" if it is not a wrapped key)."""
    parts = wrapped.split("$")
    return parts[1] if len(parts) == 3 and parts[0] == WRAPPED_PREFIX else ""


def unwrap(wrapped: str, subject: str) -> bytes | None:
    """Return the data key, or None when no configured KEK opens it (lost, or not ours)."""
    keks = {kek_id(kek): kek for kek in key_encryption_keys()}
    kek = keks.get(wrapped_kek_id(wrapped))
    if kek is None:
        return None
    try:
        nonce, sealed = _unpack(wrapped.split("$")[2])
        return AESGCM(kek).decrypt(nonce, sealed, _aad("key", subject))
    except (InvalidTag, ValueError, binascii.Error):
        return None


@sensitive_variables("data_key", "text")
def seal(data_key: bytes, subject: str, text: str) -> str:
    """Encrypt one personal value; "" stays "" (that a value was empty is not personal)."""
    if not text:
        return ""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(data_key).encrypt(nonce, text.encode("utf-8"), _aad("value", subject))
    return SEALED_PREFIX + _pack(nonce, sealed)


def is_sealed(value: str) -> bool:
    return value.startswith(SEALED_PREFIX)


@sensitive_variables("data_key")
def open_sealed(data_key: bytes, subject: str, value: str) -> str | None:
    """Decrypt one value sealed for `subject`; None if it does not open (altered, or erased)."""
    if value == ERASED_VALUE:
        return None
    try:
        nonce, sealed = _unpack(value.removeprefix(SEALED_PREFIX))
        return AESGCM(data_key).decrypt(nonce, sealed, _aad("value", subject)).decode("utf-8")
    except (InvalidTag, ValueError, binascii.Error, UnicodeDecodeError):
        return None


# --- searching encrypted values -----------------------------------------------------------------

_WORD = re.compile(r"\w+")


def words(text: str) -> set[str]:
    """The words of a value as search finds them: letters and digits, case folded."""
    return {word.casefold() for word in _WORD.findall(text)}


def word_digests(word_list: set[str], *, every_key: bool = False) -> set[str]:
    """Return keyed hashes of words (a blind index), under the newest KEK or, to search, all.

    Supervisors find entries by a word of an encrypted value without the value being stored in
    the clear; the index rows of an erased person are deleted with their key.
    """
    keks = key_encryption_keys()
    digests = set()
    for kek in keks if every_key else keks[:1]:
        search_key = hmac.new(kek, b"cdp-backoffice:audit-search", hashlib.sha256).digest()
        digests |= {
            hmac.new(search_key, word.encode("utf-8"), hashlib.sha256).hexdigest()
            for word in word_list
        }
    return digests

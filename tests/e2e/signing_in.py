"""Signing in in the browser tests: the password form, and the TOTP step for roles that need it.

Supervisors and administrators must pass a second factor after their password: the helper gives
them an authenticator app (TOTP) with a known secret, and types the code computed here, as an
authenticator app would (RFC 6238).
"""

import base64
import hashlib
import hmac
import re
import struct
import time

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from accounts.mfa import mfa_required

# Base32, as authenticator apps take it from the QR code.
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def totp_code(secret: str, at: float | None = None, period: int = 30, digits: int = 6) -> str:
    """Compute the TOTP code for `secret` now (or at `at`): RFC 6238 over RFC 4226's HOTP."""
    counter = int((time.time() if at is None else at) // period)
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def give_totp(user, secret: str = TOTP_SECRET) -> None:
    """Give the user an authenticator app with this secret, as enrolling one would."""
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, secret)


def fill_password(page, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def sign_in(page, username: str, password: str) -> None:
    """Sign in from the home page, passing the TOTP step when the user's role needs one."""
    user = get_user_model().objects.filter(username=username).first()
    needs_mfa = user is not None and mfa_required(user)
    if needs_mfa:
        give_totp(user)
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    fill_password(page, username, password)
    if needs_mfa:
        expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
        page.get_by_label("Code").fill(totp_code(TOTP_SECRET))
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page).not_to_have_url(re.compile(r"/accounts/2fa/authenticate/"))

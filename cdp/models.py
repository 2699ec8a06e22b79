"""The CDP connections administrators manage: region, client key and the encrypted API token."""

import hashlib
import hmac

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.views.decorators.debug import sensitive_variables

from cdp import hosts, transport
from core import crypto

# Names the API token for the encryption, so its ciphertext cannot pass for another secret's.
TOKEN_PURPOSE = "cdp.CDPConnection.api_token"
NO_TOKEN = "(none)"
# A stored token goes only to the host it was typed in for: pointing the connection elsewhere
# (region or custom URL) takes the token again, so nobody can redirect it by editing the URL.
TOKEN_FOR_NEW_URL = (
    "Type the API token again: the connection now points at {url}, and the stored token goes "
    "only where it was typed in for."
)
# What each audited field of a connection is called in the audit log.
FIELD_LABELS = {
    "name": "Name",
    "region": "Region",
    "custom_url": "Custom URL",
    "client_key": "Client key",
    "api_token": "API token",
    "api_version": "API version",
    "timeout": "Timeout (seconds)",
    "is_active": "Active",
}


# Names the key the fingerprints are made with (derived from FIELD_ENCRYPTION_KEY's newest key).
FINGERPRINT_PURPOSE = "cdp.CDPConnection.api_token.fingerprint"
# What the audit log says of a stored token whose fingerprint could not be made (no key then).
UNKNOWN_FINGERPRINT = "fingerprint unknown"


@sensitive_variables("token")
def token_fingerprint(token: str) -> str:
    """Return a short keyed name for a token: `fingerprint <12 hex of HMAC-SHA256> (key <id>)`.

    The key is derived from FIELD_ENCRYPTION_KEY's newest key, which is not in the database: a
    copy of the database, the audit log or its CSV gives nothing to test guessed tokens against.
    """
    if not token:
        return NO_TOKEN
    key_id, key = crypto.derived_key(FINGERPRINT_PURPOSE)
    digest = hmac.new(key, token.encode("utf-8"), hashlib.sha256).hexdigest()[:12]
    return f"fingerprint {digest} (key {key_id})"


def token_tail(token: str) -> str:
    """Return the end of a token that may be shown: 4 characters of 16 or more, 2 of 12 to 15.

    What stays hidden is what protects the token, so a shorter token shows less, and one under
    12 characters shows nothing.
    """
    if len(token) >= 16:
        return token[-4:]
    if len(token) >= 12:
        return token[-2:]
    return ""


class CDPConnection(models.Model):
    """Where and as whom the app calls CDP; the one active row wins over the CDP_* settings."""

    class Region(models.TextChoices):
        # The regional hosts of the REST API (authentication-and-authorization.html).
        AP = "https://api-engage-ap.sitecorecloud.io", "Asia Pacific (api-engage-ap)"
        EU = "https://api-engage-eu.sitecorecloud.io", "Europe (api-engage-eu)"
        JPE = "https://api-engage-jpe.sitecorecloud.io", "Japan (api-engage-jpe)"
        US = "https://api-engage-us.sitecorecloud.io", "United States (api-engage-us)"
        CUSTOM = "custom", "Custom URL (the local sandbox or a proxy)"

    class APIVersion(models.TextChoices):
        # docs/cdp-versions.md: what differs, and how to choose.
        V2 = "v2", "v2 (legacy; every CDP instance)"
        V2_1 = "v2.1", "v2.1 (current; instances on the 2.1 data model)"

    name = models.CharField(max_length=100, unique=True)
    region = models.CharField(max_length=64, choices=Region, default=Region.EU)
    custom_url = models.URLField(
        "custom URL",
        blank=True,
        help_text="Only for the region “Custom URL”, e.g. http://127.0.0.1:8100 for the sandbox.",
    )
    client_key = models.CharField(
        max_length=200, help_text="From CDP > Settings > API access (the Basic auth user)."
    )
    api_version = models.CharField(
        "API version",
        max_length=8,
        choices=APIVersion,
        default=APIVersion.V2,
        help_text="Which of CDP's REST APIs to speak: its paths, links and how a save is sent. "
        "The connection test says whether CDP answers in it.",
    )
    # AES-256-GCM under FIELD_ENCRYPTION_KEY (core/crypto.py); the plaintext is never stored.
    api_token_encrypted = models.TextField("API token (encrypted)", editable=False)
    # Only what may be shown (token_tail): the last 4 characters of a long token, fewer or none.
    api_token_tail = models.CharField("API token ends with", max_length=4, editable=False)
    # token_fingerprint(), keyed; "" when it could not be made (see the migration 0002).
    api_token_fingerprint = models.CharField(max_length=64, editable=False)
    timeout = models.FloatField(
        "timeout (seconds)",
        default=10.0,
        validators=[MinValueValidator(0.5), MaxValueValidator(120)],
        help_text="Seconds to wait for CDP to answer each call.",
    )
    is_active = models.BooleanField(
        "active",
        default=False,
        help_text="The app uses the active connection; making one active deactivates the others.",
    )
    last_tested_at = models.DateTimeField("last tested", null=True, blank=True, editable=False)
    last_test_ok = models.BooleanField("last test passed", null=True, editable=False)
    last_test_status = models.PositiveSmallIntegerField(
        "last test HTTP status", null=True, blank=True, editable=False
    )
    last_test_message = models.TextField("last test message", blank=True, editable=False)
    last_test_latency_ms = models.PositiveIntegerField(
        "last test latency (ms)", null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "CDP connection"
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="cdp_one_active_connection"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.region == self.Region.CUSTOM and not self.custom_url:
            raise ValidationError({"custom_url": "Enter the URL to use with “Custom URL”."})
        if self.region != self.Region.CUSTOM and self.custom_url:
            raise ValidationError(
                {"custom_url": "Leave this empty unless the region is “Custom URL”."}
            )
        # The client would refuse to call it anyway; saying so here spares a connection that
        # can never work.
        refusal = hosts.host_refusal(self.base_url)
        if refusal:
            raise ValidationError(
                {"custom_url" if self.region == self.Region.CUSTOM else "region": refusal}
            )

    @property
    def base_url(self) -> str:
        return self.url_of(self.region, self.custom_url)

    @classmethod
    def url_of(cls, region: str, custom_url: str) -> str:
        """Return the base URL that a region, or the custom URL, stands for."""
        url = custom_url if region == cls.Region.CUSTOM else region
        return (url or "").rstrip("/")

    @property
    def masked_token(self) -> str:
        if not self.api_token_encrypted:
            return NO_TOKEN
        return f"…{self.api_token_tail}" if self.api_token_tail else "stored (none of it shown)"

    @sensitive_variables("token")
    def set_api_token(self, token: str) -> None:
        """Encrypt and store a new API token, keeping in clear only the end that may be shown."""
        self.api_token_encrypted = crypto.encrypt(token, purpose=TOKEN_PURPOSE)
        self.api_token_tail = token_tail(token)
        self.api_token_fingerprint = token_fingerprint(token)

    def get_api_token(self) -> str:
        """Decrypt and return the stored API token."""
        if not self.api_token_encrypted:
            return ""
        return crypto.decrypt(self.api_token_encrypted, purpose=TOKEN_PURPOSE)

    @sensitive_variables("api_token")
    def client_connection(self, *, api_token: str | None = None) -> transport.Connection:
        """Return the client's view of this connection: `api_token`, else the stored one."""
        return transport.Connection(
            base_url=self.base_url,
            client_key=self.client_key,
            api_token=api_token or self.get_api_token(),
            # The connect timeout stays the operator's setting, but never above the read timeout.
            connect_timeout=min(settings.CDP_CONNECT_TIMEOUT, self.timeout),
            read_timeout=self.timeout,
            api_version=self.api_version,
        )


class ErasedRef(models.Model):
    """A guest or order consumer of a person who was erased: the do-not-send list.

    CDP's duty on the controller after an erasure is to "ensure that none of your systems send
    any of [the guest's] personal data" again; `cdp.erasures` holds every call to it.
    """

    class Kind(models.TextChoices):
        GUEST = "guest", "Guest"
        CONSUMER = "consumer", "Order consumer"

    ref = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=16, choices=Kind)
    # When the back office forgot the person, and the ticket of the erasure request.
    erased_at = models.DateTimeField()
    ticket = models.CharField(max_length=100)

    class Meta:
        verbose_name = "erased ref"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.ref} (erased)"

"""The sessions each user is signed in with, so they can be ended on the server."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class UserSession(models.Model):
    """One signed-in session: recorded at sign-in, removed at sign-out or when it is ended.

    The session store alone cannot say which sessions belong to a user (the database backend keeps
    the user id inside the encoded data, the cache backends cannot be listed at all), so ending a
    user's sessions (deactivation, an administrator's action) goes through these rows.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="user_sessions"
    )
    # The session store's key. It is a bearer secret, like the key in the session table itself:
    # never shown anywhere.
    session_key = models.CharField(max_length=40, unique=True, editable=False)
    created_at = models.DateTimeField("signed in at", default=timezone.now, db_index=True)
    ip_address = models.GenericIPAddressField("IP address", null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    # The identity provider's session id (the ID token's `sid`) of an SSO sign-in, by which a
    # back-channel logout names the sessions to end; empty for password sign-ins.
    sso_session_id = models.CharField(
        "identity provider session", max_length=255, blank=True, db_index=True, editable=False
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "signed-in session"

    def __str__(self) -> str:
        return f"{self.user} since {self.created_at:%Y-%m-%d %H:%M} UTC"

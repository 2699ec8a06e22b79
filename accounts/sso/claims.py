"""What an SSO sign-in says about the person: their roles (from the groups claim), amr and acr."""

from dataclasses import dataclass, field

from allauth.socialaccount.models import SocialLogin
from django.conf import settings
from django.http import HttpRequest

from accounts import roles

ROLES = (roles.CUSTOMER_SERVICE, roles.SUPERVISOR, roles.ADMINISTRATOR)
# Where the sign-in's claims wait on the request between allauth's hook and the sign-in signal.
REQUEST_ATTRIBUTE = "sso_sign_in"


@dataclass(frozen=True)
class SSOSignIn:
    """The claims of one SSO sign-in that the back office acts on."""

    subject: str
    groups: tuple[str, ...]
    roles: tuple[str, ...]
    amr: tuple[str, ...] = ()
    acr: str = ""
    session_id: str = ""
    unmapped: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        """Say how the person signed in, for the audit entry."""
        parts = [f"Single sign-on ({settings.OIDC_PROVIDER_NAME})"]
        parts.append("roles: " + (", ".join(self.roles) if self.roles else "none"))
        if self.amr:
            parts.append("amr: " + " ".join(self.amr))
        if self.acr:
            parts.append(f"acr: {self.acr}")
        return "; ".join(parts)


def role_map() -> dict[str, str]:
    """Return {provider group: role name} from OIDC_ROLE_MAP, unknown role names left out."""
    mapping = {}
    for pair in str(settings.OIDC_ROLE_MAP or "").split(","):
        group, _, role = pair.partition("=")
        group, role = group.strip(), role.strip()
        if group and role in ROLES:
            mapping[group] = role
    return mapping


def _as_list(value: object) -> list[str]:
    # Providers send groups as a list (Entra ID, Okta, Keycloak), some as one spaced string.
    if isinstance(value, str):
        return value.replace(",", " ").split()
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return []


def roles_for(groups: list[str]) -> tuple[str, ...]:
    """Map the provider's groups to roles, most powerful first."""
    mapping = role_map()
    # Keycloak can send full group paths ("/cs-agents"): the last part names the group.
    held = {mapping[g] for g in groups if g in mapping}
    held |= {mapping[g.rsplit("/", 1)[-1]] for g in groups if g.rsplit("/", 1)[-1] in mapping}
    return tuple(role for role in (roles.ADMINISTRATOR, roles.SUPERVISOR, roles.CUSTOMER_SERVICE)
                 if role in held)  # fmt: skip


def from_sociallogin(sociallogin: SocialLogin) -> SSOSignIn:
    """Read the claims of a sign-in: the ID token's, with the userinfo answer's over them."""
    data = sociallogin.account.extra_data or {}
    id_token = data.get("id_token") or {}
    claims = {**id_token, **(data.get("userinfo") or {})}
    groups = _as_list(claims.get(settings.OIDC_ROLES_CLAIM))
    mapped = roles_for(groups)
    return SSOSignIn(
        subject=str(sociallogin.account.uid),
        groups=tuple(groups),
        roles=mapped,
        # amr, acr and sid describe the authentication: only the ID token's count.
        amr=tuple(_as_list(id_token.get("amr"))),
        acr=str(id_token.get("acr") or ""),
        session_id=str(id_token.get("sid") or ""),
    )


def remember(request: HttpRequest, sociallogin: SocialLogin) -> SSOSignIn:
    """Keep the sign-in's claims on the request for the sign-in signal's receivers."""
    sign_in = from_sociallogin(sociallogin)
    setattr(request, REQUEST_ATTRIBUTE, sign_in)
    return sign_in


def remembered(request: HttpRequest | None) -> SSOSignIn | None:
    """Return the claims of the SSO sign-in this request completes, if it does."""
    return getattr(request, REQUEST_ATTRIBUTE, None)

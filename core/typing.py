"""Types every app's annotations share."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser

# Who acts: the signed-in user, a request's anonymous user (a failed sign-in), or nobody (a
# management command, the worker acting on a queued edit whose user was deleted).
Actor = AbstractBaseUser | AnonymousUser | None

"""What the approvals tests share: a cached consumer, a second guest, saves as agents make them."""

import pytest

from accounts import roles
from audit.services import RequestMeta
from cdp_sandbox import seed
from consumers import edits, services
from tests.conftest import CONSUMER_REF, _user_with_role

OTHER_GUEST_REF = seed.make_ref("guest", 1)  # Aoife Byrne, the first demo order's traveller
CONSUMER_PATH = f"/v2/orderConsumers/{CONSUMER_REF}"


@pytest.fixture
def consumer(db, sandbox):
    return services.consumer_fetch(ref=CONSUMER_REF)


@pytest.fixture
def second_supervisor(db, django_user_model):
    return _user_with_role(django_user_model, "second-supervisor", roles.SUPERVISOR)


def save(consumer, user, *, reason="The customer called to say so.", **changes):
    """Save an edit from the form as `user` made it, on the consumer as cached."""
    loaded = consumer.editable_values()
    return edits.consumer_edit_save(
        consumer=consumer,
        data={**loaded, **changes},
        loaded_values=loaded,
        loaded_modified_at=consumer.cdp_modified_at,
        user=user,
        meta=RequestMeta(ip_address="192.0.2.7", request_id="req-1"),
        reason=reason,
    )


def updates_sent(sandbox):
    return sandbox.requests_to("POST", CONSUMER_PATH)

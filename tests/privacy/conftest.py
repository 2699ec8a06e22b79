"""A person with several bookings: guest 0 travels on orders 0, 1 and 2 in the sandbox."""

import copy

import pytest

from cdp_sandbox import seed
from tests.conftest import CONSUMER_REF, GUEST_REF

SECOND_REF = seed.make_ref("consumer", 100)  # guest 0 on order 1
THIRD_REF = seed.make_ref("consumer", 101)  # guest 0 on order 2


@pytest.fixture
def three_bookings(sandbox):
    """Give guest 0 two more trips, on orders 1 and 2; return the three consumer refs."""
    with sandbox.lock:
        original = sandbox.data.consumers[CONSUMER_REF]
        for ref, order in ((SECOND_REF, 1), (THIRD_REF, 2)):
            record = copy.deepcopy(original)
            record.pop("specialAssistance", None)
            record.update(ref=ref, order=seed.make_ref("order", order), orderItems=[])
            if ref == THIRD_REF:
                record["title"] = "Dr"  # already as the correction wants it, for one field
            sandbox.data.consumers[ref] = record
            # The guest booked these trips too: CDP lists a guest's orders by their contact.
            sandbox.data.order_contacts[seed.make_ref("order", order)] = GUEST_REF
    return [CONSUMER_REF, SECOND_REF, THIRD_REF]

"""An audit entry's page shows the booking reference and the consumer's name now beside the
name at the time."""

from django.urls import reverse

from audit.services import RequestMeta
from consumers import pushes, services
from tests.conftest import CONSUMER_REF


def test_an_entry_names_the_booking_and_the_consumer_as_now(client, supervisor, agent, sandbox):
    consumer = services.consumer_fetch(ref=CONSUMER_REF)
    result = pushes.consumer_push_update(
        consumer=consumer,
        data={**consumer.editable_values(), "last_name": "Beirne"},
        loaded_modified_at=consumer.cdp_modified_at,
        user=agent,
        meta=RequestMeta(),
    )
    assert result.entry is not None
    client.force_login(supervisor)

    content = client.get(reverse("audit:detail", args=[result.entry.pk])).content.decode()

    assert "Liam Byrne</a>" in content  # the name at the time
    assert "(now Liam Beirne)" in content
    assert 'data-testid="booking-reference">B94TXY-1</a>' in content

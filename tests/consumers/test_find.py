"""The search box on every page, the edit form's guest hint and the agent's recent consumers."""

import uuid

from django.urls import reverse

from cdp_sandbox.server import Fault
from tests.conftest import CONSUMER_REF, GUEST_REF, ORDER_REF

FIND = reverse("consumers:find")
CONSUMER_URL = reverse("consumers:detail", kwargs={"ref": CONSUMER_REF})
ORDER_URL = reverse("consumers:order", kwargs={"ref": ORDER_REF})


def cache_the_first_order(client):
    client.get(ORDER_URL)


def test_every_page_has_the_search_box(agent_client):
    for url in (reverse("consumers:home"), CONSUMER_URL, reverse("consumers:bulk_new")):
        content = agent_client.get(url).content.decode()
        assert 'id="global-search"' in content
        assert 'aria-keyshortcuts="/"' in content


def test_a_consumer_ref_goes_straight_to_the_consumer_even_before_it_is_cached(agent_client):
    response = agent_client.get(FIND, {"q": f"  {CONSUMER_REF} "})

    assert response.status_code == 302
    assert response["Location"] == CONSUMER_URL


def test_an_order_ref_goes_to_the_order(agent_client):
    assert agent_client.get(FIND, {"q": ORDER_REF})["Location"] == ORDER_URL


def test_a_link_pasted_from_cdp_goes_where_it_points(agent_client):
    link = f"https://api-engage-eu.sitecorecloud.io/v2/orders/{ORDER_REF}"

    assert agent_client.get(FIND, {"q": link})["Location"] == ORDER_URL


def test_a_booking_reference_goes_to_its_order(agent_client):
    assert agent_client.get(FIND, {"q": "B94TXY-1"})["Location"] == ORDER_URL


def test_a_guest_ref_goes_to_the_guests_consumer_when_there_is_one(agent_client):
    cache_the_first_order(agent_client)

    assert agent_client.get(FIND, {"q": GUEST_REF})["Location"] == CONSUMER_URL


def test_a_guest_ref_not_cached_yet_goes_to_the_guests_order_found_in_cdp(agent_client, sandbox):
    response = agent_client.get(FIND, {"q": GUEST_REF})

    assert response["Location"] == ORDER_URL
    assert sandbox.requests_to("GET", "/v2/orders")[-1].query["guestRef"] == GUEST_REF


def test_a_unique_name_goes_straight_to_the_consumer(agent_client):
    cache_the_first_order(agent_client)

    response = agent_client.get(FIND, {"q": "liam byr"})

    assert response["Location"] == CONSUMER_URL


def test_a_name_several_consumers_share_lists_them(agent_client):
    cache_the_first_order(agent_client)

    response = agent_client.get(FIND, {"q": "Byrne"})

    assert response.status_code == 200
    names = [consumer.first_name for consumer in response.context["found"].consumers]
    assert sorted(names) == ["Aoife", "Liam", "Saoirse"]
    assert "3 matching consumers" in response.content.decode()


def test_nothing_found_says_so_and_keeps_the_query_in_the_box(agent_client):
    response = agent_client.get(FIND, {"q": "Nobody"})

    content = response.content.decode()
    assert response.status_code == 200
    assert "Nothing matches “Nobody”" in content
    assert 'value="Nobody"' in content


def test_a_name_nobody_cached_is_looked_for_among_cdps_guests(agent_client, sandbox):
    response = agent_client.get(FIND, {"q": "byrne"})

    content = response.content.decode()
    assert "3 guests in CDP" in content
    for first in ("Liam", "Aoife", "Saoirse"):
        assert f"{first} Byrne</a>" in content
    assert f'href="{FIND}?q={GUEST_REF}"' in content
    # Namesakes told apart by e-mail address and booking; never phone numbers or passports.
    assert "aoife.byrne@example.com" in content
    assert "B94TXY-1" in content
    assert "+353" not in content
    assert sandbox.requests_to("GET", "/v2/guests")[0].query == {
        "lastName": "byrne", "offset": "0", "limit": "20",
    }  # fmt: skip


def test_a_name_typed_in_one_case_is_asked_again_in_title_case_if_cdp_minds_case(
    agent_client, sandbox
):
    sandbox.config.case_sensitive_guest_search = True

    content = agent_client.get(FIND, {"q": "BYRNE"}).content.decode()

    assert "3 guests in CDP" in content
    searches = sandbox.requests_to("GET", "/v2/guests")
    assert [search.query["lastName"] for search in searches] == ["BYRNE", "Byrne"]


def test_a_first_and_last_name_cdp_has_one_guest_of_goes_to_the_order_they_booked(
    agent_client, sandbox
):
    response = agent_client.get(FIND, {"q": "Liam Byrne"})

    assert response["Location"] == ORDER_URL
    assert sandbox.requests_to("GET", "/v2/guests")[0].query["firstName"] == "Liam"


def test_an_email_address_finds_its_guest(agent_client, sandbox):
    response = agent_client.get(FIND, {"q": "Liam.Byrne@example.com"})

    assert response["Location"] == ORDER_URL
    assert sandbox.requests_to("GET", "/v2/guests")[0].query["email"] == "Liam.Byrne@example.com"


def test_a_guest_who_only_travels_on_someone_elses_booking_is_told_why_no_order_is_listed(
    agent_client, sandbox
):
    # CDP lists a guest's orders by the order's contact: Aoife travels on Liam's booking.
    content = agent_client.get(FIND, {"q": "Aoife Byrne"}).content.decode()

    assert "CDP lists no order this guest booked" in content
    assert "find it by its booking reference" in content


def test_a_travellers_bookings_are_found_through_the_cached_consumers_too(agent_client, sandbox):
    from cdp_sandbox import seed
    from consumers import services

    traveller = seed.make_ref("guest", 1)  # Aoife, a consumer on order 0, booked nothing
    services.order_fetch(ref=ORDER_REF)

    trips = services.guest_orders(guest_ref=traveller)

    assert trips.order_refs == [ORDER_REF]
    assert "may be incomplete" in trips.note
    assert sandbox.requests_to("GET", "/v2/orders")[-1].query["guestRef"] == traveller


def test_the_sandbox_can_list_a_guests_orders_by_traveller_instead(agent_client, sandbox):
    sandbox.config.guest_orders_by = "consumer"

    response = agent_client.get(FIND, {"q": "Aoife Byrne"})

    assert response["Location"] == ORDER_URL


def test_when_cdp_has_more_guests_than_one_page_the_list_says_how_to_narrow_it(
    agent_client, monkeypatch
):
    monkeypatch.setattr("consumers.services.GUEST_RESULTS", 2)

    content = agent_client.get(FIND, {"q": "Byrne"}).content.decode()

    assert "2+ guests in CDP" in content
    assert "add the first name, or search by e-mail address" in content


def test_a_name_cdp_has_no_guest_of_either_is_explained(agent_client):
    content = agent_client.get(FIND, {"q": "Aoife Nobody"}).content.decode()

    assert "Tried: cached consumers by name; CDP&#x27;s guests by first and last name." in content


def test_when_cdp_cannot_search_its_guests_the_query_is_kept(agent_client, sandbox):
    sandbox.inject(Fault(path="/v2/guests", status=503, times=None))

    content = agent_client.get(FIND, {"q": "Byrne"}).content.decode()

    assert "CDP could not be asked." in content
    assert 'value="Byrne"' in content


def test_a_ref_cdp_does_not_know_is_explained(agent_client):
    unknown = str(uuid.uuid4())

    response = agent_client.get(FIND, {"q": unknown})

    assert f"CDP has no consumer, order or guest with the ref {unknown}." in (
        response.content.decode()
    )


def test_an_empty_search_asks_for_something(agent_client):
    response = agent_client.get(FIND, {"q": "  "})

    assert response.status_code == 200
    assert "Type a ref, a booking reference or a name to find." in response.content.decode()


def test_when_cdp_is_down_the_search_says_so_and_keeps_the_query(agent_client, sandbox):
    sandbox.inject(Fault(status=503, times=None))

    response = agent_client.get(FIND, {"q": CONSUMER_REF})

    content = response.content.decode()
    assert response.status_code == 200
    assert "CDP could not be asked." in content
    assert f'value="{CONSUMER_REF}"' in content


def test_the_guest_hint_gives_the_guests_name_and_email(agent_client):
    response = agent_client.get(reverse("consumers:guest_summary"), {"ref": GUEST_REF})

    assert response.status_code == 200
    assert response.json() == {
        "ref": GUEST_REF,
        "name": "Liam Byrne",
        "email": "liam.byrne@example.com",
    }


def test_the_guest_hint_takes_a_link_and_explains_what_it_cannot_use(agent_client):
    url = reverse("consumers:guest_summary")
    link = f"https://api-engage-eu.sitecorecloud.io/v2/guests/{GUEST_REF}"

    assert agent_client.get(url, {"ref": link}).json()["ref"] == GUEST_REF
    not_a_ref = agent_client.get(url, {"ref": "liam"})
    assert not_a_ref.status_code == 400
    assert "is not a CDP ref" in not_a_ref.json()["error"]
    unknown = agent_client.get(url, {"ref": str(uuid.uuid4())})
    assert unknown.status_code == 404
    assert unknown.json()["error"].startswith("CDP has no guest")


def test_the_guest_hint_says_when_cdp_cannot_answer(agent_client, sandbox):
    sandbox.inject(Fault(path="/v2/guests/.*", status=503, times=None))

    response = agent_client.get(reverse("consumers:guest_summary"), {"ref": GUEST_REF})

    assert response.status_code == 503
    assert "CDP is unavailable" in response.json()["error"]


def test_the_home_page_lists_the_consumers_this_agent_viewed_last_first(
    agent_client, client, supervisor
):
    cache_the_first_order(agent_client)
    consumers = [consumer for consumer, *_ in agent_client.get(ORDER_URL).context["consumers"]]
    for consumer in (consumers[2], consumers[0], consumers[2]):
        agent_client.get(reverse("consumers:detail", kwargs={"ref": consumer.ref}))

    recent = agent_client.get(reverse("consumers:home")).context["recent"]

    assert [c.ref for c in recent] == [consumers[2].ref, consumers[0].ref]
    client.force_login(supervisor)
    assert client.get(reverse("consumers:home")).context["recent"] == []

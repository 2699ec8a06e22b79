"""The approvals pages and what the consumer's pages say about changes awaiting approval."""

from django.test import Client
from django.urls import reverse

from approvals.models import ApprovalRequest
from cdp.links import ref_from_link
from tests.approvals.conftest import OTHER_GUEST_REF, save
from tests.conftest import CONSUMER_REF, GUEST_REF


def edit_form_data(client, **changes):
    form = client.get(reverse("consumers:edit", kwargs={"ref": CONSUMER_REF})).context["form"]
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(changes)
    return data


def detail_url(request):
    return reverse("approvals:detail", kwargs={"pk": request.pk})


def test_the_edit_form_says_what_needs_approval(agent_client, sandbox):
    response = agent_client.get(reverse("consumers:edit", kwargs={"ref": CONSUMER_REF}))

    content = response.content.decode()
    assert "Changing the guest needs a supervisor&#x27;s approval" in content
    assert "Changing the order items needs a supervisor&#x27;s approval" in content


def test_a_split_save_tells_the_agent_what_was_sent_and_what_waits(agent_client, sandbox):
    data = edit_form_data(
        agent_client, last_name="Beirne", guest_ref=OTHER_GUEST_REF, reason="Wrong profile."
    )

    response = agent_client.post(
        reverse("consumers:edit", kwargs={"ref": CONSUMER_REF}), data, follow=True
    )

    content = response.content.decode()
    request = ApprovalRequest.objects.get()
    assert "Your change is split: Last name went to CDP" in content
    assert f"Guest: submitted for approval (request {request.pk})" in content
    assert "Saved Liam Beirne to CDP." in content
    assert 'data-testid="awaiting-approval"' in content
    assert "Wrong profile." in content
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Beirne"
    assert ref_from_link(sandbox.consumer(CONSUMER_REF)["guest"]) == GUEST_REF


def test_a_held_change_without_a_reason_comes_back_with_the_input_kept(agent_client, sandbox):
    data = edit_form_data(agent_client, guest_ref=OTHER_GUEST_REF, reason="")

    response = agent_client.post(reverse("consumers:edit", kwargs={"ref": CONSUMER_REF}), data)

    assert response.status_code == 200
    assert "Say why you make this change" in response.context["form"].errors["reason"][0]
    assert response.context["form"]["guest_ref"].value() == OTHER_GUEST_REF
    assert not ApprovalRequest.objects.exists()


def test_the_agent_withdraws_from_the_consumers_page(agent_client, agent, consumer, sandbox):
    request = ApprovalRequest.objects.get(
        pk=save(consumer, agent, guest_ref=OTHER_GUEST_REF).held.pk
    )
    page = agent_client.get(reverse("consumers:detail", kwargs={"ref": CONSUMER_REF}))
    withdraw = reverse("approvals:withdraw", kwargs={"pk": request.pk})
    assert withdraw in page.content.decode()

    response = agent_client.post(withdraw, follow=True)

    assert f"Withdrew request {request.pk}" in response.content.decode()
    request.refresh_from_db()
    assert request.status == ApprovalRequest.Status.WITHDRAWN


def test_supervisors_see_the_count_and_the_list_oldest_first_filtered_by_field_and_agent(
    client, agent, another_agent, supervisor, consumer, sandbox
):
    first = save(consumer, agent, guest_ref=OTHER_GUEST_REF).held
    second = save(consumer, another_agent, order_item_refs=consumer.order_item_refs[:1]).held
    client.force_login(supervisor)

    everything = client.get(reverse("approvals:list"))
    by_field = client.get(reverse("approvals:list"), {"field": "order_item_refs"})
    by_agent = client.get(reverse("approvals:list"), {"agent": "agent"})

    assert [r.pk for r in everything.context["requests"]] == [first.pk, second.pk]
    assert 'Approvals <span class="badge text-bg-warning">2' in everything.content.decode()
    assert [r.pk for r in by_field.context["requests"]] == [second.pk]
    assert [r.pk for r in by_agent.context["requests"]] == [first.pk]


def test_the_request_page_shows_cdp_now_the_version_seen_and_the_proposal(
    client, agent, supervisor, consumer, sandbox
):
    request = save(consumer, agent, guest_ref=OTHER_GUEST_REF).held
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")
    client.force_login(supervisor)

    response = client.get(detail_url(request))

    content = response.content.decode()
    rows = {row["field"]: row for row in response.context["page"].rows}
    assert (rows["last_name"]["now"], rows["last_name"]["seen"]) == ("Byrne-Walsh", "Byrne")
    assert (rows["guest_ref"]["seen"], rows["guest_ref"]["proposed"]) == (
        GUEST_REF,
        OTHER_GUEST_REF,
    )
    assert 'data-testid="changed-since"' in content
    assert "Approve and send to CDP" in content


def test_approving_redirects_to_the_conflict_when_cdp_changed(
    client, agent, supervisor, consumer, sandbox
):
    request = save(consumer, agent, guest_ref=OTHER_GUEST_REF).held
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")
    client.force_login(supervisor)

    response = client.post(reverse("approvals:approve", kwargs={"pk": request.pk}))

    push_id = ApprovalRequest.objects.get(pk=request.pk).push_id
    assert response["Location"] == reverse(
        "consumers:conflict", kwargs={"ref": CONSUMER_REF, "push_id": push_id}
    )
    assert ref_from_link(sandbox.consumer(CONSUMER_REF)["guest"]) == GUEST_REF


def test_a_supervisor_cannot_approve_their_own_request_through_the_page(
    client, supervisor, consumer, sandbox
):
    request = save(consumer, supervisor, guest_ref=OTHER_GUEST_REF).held
    client.force_login(supervisor)

    page = client.get(detail_url(request)).content.decode()
    response = client.post(reverse("approvals:approve", kwargs={"pk": request.pk}), follow=True)

    assert "Approve and send to CDP" not in page
    assert "another supervisor approves or rejects it" in response.content.decode()
    assert ApprovalRequest.objects.get(pk=request.pk).status == "waiting"


def test_a_rejection_without_a_comment_is_a_form_error(
    client, agent, supervisor, consumer, sandbox
):
    request = save(consumer, agent, guest_ref=OTHER_GUEST_REF).held
    client.force_login(supervisor)

    response = client.post(reverse("approvals:reject", kwargs={"pk": request.pk}), {"comment": ""})

    assert response.status_code == 200
    assert "Say why you reject it" in response.content.decode()
    assert ApprovalRequest.objects.get(pk=request.pk).status == "waiting"


def test_the_agent_is_told_the_outcome_once_on_their_requests_page(
    agent_client, agent, supervisor, consumer, sandbox
):
    request = save(consumer, agent, guest_ref=OTHER_GUEST_REF).held
    supervisors = Client()
    supervisors.force_login(supervisor)
    supervisors.post(
        reverse("approvals:reject", kwargs={"pk": request.pk}), {"comment": "Not theirs."}
    )

    home = agent_client.get(reverse("consumers:home")).content.decode()
    mine = agent_client.get(reverse("approvals:mine")).content.decode()
    after = agent_client.get(reverse("consumers:home")).content.decode()

    assert 'My requests <span class="badge text-bg-info">1' in home
    assert "was rejected by supervisor: Not theirs." in mine
    assert 'My requests <span class="badge' not in after


def test_another_agent_does_not_learn_the_request_exists(
    client, agent, another_agent, consumer, sandbox
):
    request = save(consumer, agent, guest_ref=OTHER_GUEST_REF).held
    client.force_login(another_agent)

    assert client.get(detail_url(request)).status_code == 404


def test_the_audit_entry_of_a_step_links_to_its_request(
    client, agent, supervisor, consumer, sandbox
):
    request = save(consumer, agent, guest_ref=OTHER_GUEST_REF).held
    entry_id = ApprovalRequest.objects.get(pk=request.pk).submitted_entry_id
    client.force_login(supervisor)

    response = client.get(reverse("audit:detail", kwargs={"pk": entry_id}))

    assert f'href="{detail_url(request)}" data-testid="approval-request-link"' in (
        response.content.decode()
    )

"""An agent's save against the two CDP calls it cannot avoid (re-read and update).

    python -m bench.save [--latency-ms 50] [--runs 30]

Starts the CDP sandbox in-process with the given latency and measures, in the same run: a save
through the whole app (edit form POST to its redirect, database included) and the bare re-read
and update made directly with `requests` over a pooled session. Uses the database in
DATABASE_URL (default: SQLite), after `migrate`.
"""

import argparse

import requests

from bench.harness import HEADER, measure, row, setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    setup_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    from accounts import roles
    from cdp_sandbox import seed
    from cdp_sandbox.server import Fault, Sandbox
    from consumers.models import OrderConsumer

    call_command("migrate", verbosity=0)
    setup_test_environment()  # so the form can be read from a response's context
    sandbox = Sandbox()
    base_url = sandbox.start()
    sandbox.inject(Fault(path="/v2/.*", latency=args.latency_ms / 1000, times=None))
    settings.CDP_BASE_URL = base_url
    settings.CDP_CLIENT_KEY, settings.CDP_API_TOKEN = "sandbox-client-key", "sandbox-api-token"
    roles.ensure_roles()
    user, _ = get_user_model().objects.get_or_create(username="bench-agent")
    user.groups.add(Group.objects.get(name=roles.CUSTOMER_SERVICE))
    client = Client()
    client.force_login(user)
    ref = seed.make_ref("consumer", 3)
    OrderConsumer.objects.filter(ref=ref).delete()
    form = client.get(f"/consumers/{ref}/edit/").context["form"]
    data = {name: form[name].value() or "" for name in form.fields}
    counter = iter(range(1_000_000))

    def save_through_the_app():
        # Each save loads the form afresh (as an agent does) but only the POST is timed.
        data["last_name"] = f"Clarke-{next(counter)}"
        started = _clock()
        response = client.post(f"/consumers/{ref}/edit/", data)
        elapsed = _clock() - started
        assert response.status_code == 302, response.status_code
        fresh = client.get(f"/consumers/{ref}/edit/").context["form"]
        data["loaded"] = fresh["loaded"].value()
        return elapsed

    session = requests.Session()
    auth = ("sandbox-client-key", "sandbox-api-token")
    url = f"{base_url}/v2/orderConsumers/{ref}"

    def two_raw_calls():
        record = session.get(url, auth=auth, timeout=10).json()
        record["lastName"] = f"Clarke-{next(counter)}"
        for key in ("href", "ref", "createdAt", "modifiedAt", "order"):
            record.pop(key, None)
        session.post(url, json=record, auth=auth, timeout=10).raise_for_status()

    app = _measure_returned(save_through_the_app, runs=args.runs)
    raw = measure(two_raw_calls, runs=args.runs)
    print(f"CDP sandbox latency {args.latency_ms} ms, {args.runs} runs each\n")
    print(HEADER)
    print(
        row(
            "Save: form POST to redirect (vs. re-read + update with requests)",
            app,
            raw,
            "≤ 1.15x the raw calls",
        )
    )
    print(f"\nOverhead: {app['median'] / raw['median']:.3f}x the two raw calls (median).")
    sandbox.stop()


def _clock() -> float:
    import time

    return time.perf_counter()


def _measure_returned(action, *, runs: int, warmup: int = 3) -> dict[str, float]:
    """Like `measure`, for an action that times its own critical part and returns seconds."""
    import statistics

    for _ in range(warmup):
        action()
    samples = sorted(action() * 1000 for _ in range(runs))
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return {"median": statistics.median(samples), "p95": p95, "runs": runs}


if __name__ == "__main__":
    main()

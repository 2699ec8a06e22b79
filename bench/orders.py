"""An order with 200 consumers, and a bulk refresh: concurrent fetching against one at a time.

    python -m bench.orders [--consumers 200] [--latency-ms 50] [--concurrency 8] [--runs 3]

Starts the CDP sandbox in-process with the given latency, puts that many consumers on one order,
and measures in the same run: opening the order (every consumer fetched) with CDP_CONCURRENCY
calls at once, the same one call at a time, and `refresh_consumers` over all of them (throughput
against concurrency ÷ latency). Uses the database in DATABASE_URL (default: SQLite) after migrate.
"""

import argparse
import time
import uuid

from bench.harness import HEADER, measure, row, setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consumers", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    setup_django()
    from django.conf import settings
    from django.core.management import call_command

    from cdp_sandbox import seed
    from cdp_sandbox.server import Fault, Sandbox
    from consumers import services
    from consumers.models import OrderConsumer

    call_command("migrate", verbosity=0)
    sandbox = Sandbox()
    base_url = sandbox.start()
    settings.CDP_BASE_URL = base_url
    settings.CDP_CLIENT_KEY, settings.CDP_API_TOKEN = "sandbox-client-key", "sandbox-api-token"
    settings.CDP_CALL_BUDGET = settings.CDP_PAGE_BUDGET = 600
    order_ref = seed.make_ref("order", 0)
    template = sandbox.data.consumers[seed.make_ref("consumer", 0)]
    refs = []
    for number in range(args.consumers):
        ref = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-order-consumer-{number}"))
        sandbox.data.consumers[ref] = {**template, "ref": ref, "firstName": f"Traveller{number}"}
        refs.append(ref)
    sandbox.inject(Fault(path="/v2/.*", latency=args.latency_ms / 1000, times=None))

    def open_order(concurrency: int):
        def action():
            OrderConsumer.objects.filter(order_ref=order_ref).delete()
            settings.CDP_CONCURRENCY = concurrency
            sandbox.max_in_flight = 0
            page = services.order_fetch(ref=order_ref)
            assert len(page.consumers) == args.consumers + 3
            assert not page.failed
            assert sandbox.max_in_flight <= concurrency, sandbox.max_in_flight

        return action

    concurrent = measure(open_order(args.concurrency), runs=args.runs, warmup=1)
    peak = sandbox.max_in_flight
    one_by_one = measure(open_order(1), runs=1, warmup=0)

    all_refs = list(OrderConsumer.objects.filter(order_ref=order_ref).values_list("ref", flat=True))
    sandbox.max_in_flight = 0
    started = time.perf_counter()
    refreshed, failed = services.consumers_refresh(refs=all_refs, concurrency=args.concurrency)
    elapsed = time.perf_counter() - started
    assert not failed
    assert refreshed == len(all_refs)
    throughput = refreshed / elapsed
    # A refresh costs one call per consumer (a guest's name is asked only if the link changed).
    ceiling = args.concurrency / (args.latency_ms / 1000)

    print(f"{args.consumers + 3} consumers on one order, CDP latency {args.latency_ms} ms, "
          f"concurrency {args.concurrency}\n")  # fmt: skip
    print(HEADER)
    print(row(f"Open the order, {args.concurrency} calls at once (vs. one at a time)",
              concurrent, one_by_one, "≥ 6x, never above the concurrency"))  # fmt: skip
    print(f"\nMost calls in flight at once: {peak} (limit {args.concurrency}).")
    print(
        f"refresh_consumers: {refreshed} consumers in {elapsed:.2f} s = {throughput:.1f}/s; "
        f"concurrency ÷ latency = {ceiling:.0f}/s; {throughput / ceiling:.0%} of it (target ≥ 80%)."
    )
    sandbox.stop()


if __name__ == "__main__":
    main()

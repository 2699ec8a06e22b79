"""Run the CDP sandbox, REST API v2 and v2.1 side by side: `python -m cdp_sandbox --port 8100`."""

import argparse
import json
import os
import signal
import sys

from cdp_sandbox import seed
from cdp_sandbox.server import Fault, Sandbox, SandboxConfig
from cdp_sandbox.store import VERSIONS


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cdp_sandbox", description=__doc__)
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: loopback)"
    )
    parser.add_argument(
        "--port", type=int, default=8100, help="port to listen on (0 picks a free one)"
    )
    parser.add_argument(
        "--client-key", default=os.environ.get("CDP_CLIENT_KEY") or "sandbox-client-key"
    )
    parser.add_argument(
        "--api-token", default=os.environ.get("CDP_API_TOKEN") or "sandbox-api-token"
    )
    parser.add_argument(
        "--update-status",
        type=int,
        choices=(200, 201),
        default=201,
        help="status of a successful update (CDP documents 201; default 201)",
    )
    parser.add_argument(
        "--strict-titles", action="store_true", help="refuse titles outside the documented list"
    )
    parser.add_argument(
        "--case-sensitive-guest-search",
        action="store_true",
        help="match guest names in the guest search in case too (CDP does not say)",
    )
    parser.add_argument(
        "--max-string-length",
        type=int,
        default=None,
        help="refuse longer string attributes (CDP documents no limit)",
    )
    parser.add_argument(
        "--versions",
        default="v2,v2.1",
        help="the API versions to answer, comma-separated (default: v2,v2.1)",
    )
    parser.add_argument(
        "--patch-clears-by-omission",
        action="store_true",
        help="refuse a null in a v2.1 PATCH: clearing takes a PUT without the attribute "
        "(CDP does not document how PATCH clears; default: a null clears)",
    )
    parser.add_argument(
        "--no-expand-consumers",
        action="store_true",
        help="answer links, not records, to expand=true on an order's consumers (v2.1)",
    )
    parser.add_argument(
        "--guest-orders-by",
        choices=("contact", "consumer"),
        default="contact",
        help="which orders GET /orders?guestRef= lists: those the guest owns as contact "
        "(default) or those the guest travels on",
    )
    parser.add_argument(
        "--log-requests",
        action="store_true",
        help="print every API call: method, path, status and the body sent",
    )
    parser.add_argument(
        "--latency-ms", type=int, default=0, help="add this latency to every API answer"
    )
    parser.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="JSON",
        help=(
            "inject a fault from the start, as the /_sandbox/faults body; repeatable, e.g. "
            '\'{"path": "/v2/orderConsumers/.*", "status": 503, "fraction": 0.2, "times": null}\''
        ),
    )
    args = parser.parse_args(argv)
    versions = [v.strip() for v in args.versions.split(",") if v.strip()]
    unknown = sorted(set(versions) - set(VERSIONS))
    if unknown or not versions:
        parser.error(f"--versions: {', '.join(unknown) or 'none'}; known: {', '.join(VERSIONS)}")

    sandbox = Sandbox(
        SandboxConfig(
            client_key=args.client_key,
            api_token=args.api_token,
            update_status=args.update_status,
            strict_titles=args.strict_titles,
            case_sensitive_guest_search=args.case_sensitive_guest_search,
            max_string_length=args.max_string_length,
            versions=versions,
            patch_clears_with_null=not args.patch_clears_by_omission,
            expand_consumers=not args.no_expand_consumers,
            guest_orders_by=args.guest_orders_by,
        )
    )
    sandbox.log_requests = args.log_requests
    if args.latency_ms:
        sandbox.inject(Fault(path=r"/v2(\.1)?/.*", latency=args.latency_ms / 1000, times=None))
    for fault in args.fault:
        sandbox.inject(fault)
    url = sandbox.start(args.host, args.port)
    print(
        f"CDP sandbox listening on {url} (client key {args.client_key!r}), "
        f"REST API {' and '.join(versions)}",
        flush=True,
    )
    print("Demo orders: " + " ".join(seed.demo_order_refs()), flush=True)
    # Stop cleanly on Ctrl-C or `kill`, even when started where SIGINT is ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_once)
    try:
        signal.pause()
    except SystemExit:
        pass
    finally:
        sandbox.stop()


def _fault(text: str) -> Fault:
    """Parse a `--fault` value; argparse shows the error and the usage if it is not one."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc}): {text}") from None
    try:
        return Fault.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"{exc}: {text}") from None


def _exit_once(signum: int, frame: object) -> None:
    # Only the first signal counts, so a second one cannot interrupt the shutdown.
    for each in (signal.SIGINT, signal.SIGTERM):
        signal.signal(each, signal.SIG_IGN)
    sys.exit(0)


if __name__ == "__main__":
    main()

"""Lists at scale: the audit log and the consumer search against the Django admin changelists.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench python -m bench.lists [--runs 30]

Run `python -m bench.seed` on the same database first. Each page is requested in-process through
the whole middleware stack (no network) as a signed-in administrator; the reference for each is
the Django admin changelist over the same table with the same filter, measured in the same run.
"""

import argparse
from datetime import timedelta
from io import StringIO

from bench.harness import HEADER, measure, row, setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    setup_django()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from accounts import roles
    from audit.models import AuditEntry
    from consumers.models import OrderConsumer
    from dashboard.models import DailyFieldChanges, DailySaves, RolledUpDay

    user, _ = get_user_model().objects.get_or_create(username="bench-administrator")
    user.groups.add(Group.objects.get(name=roles.ADMINISTRATOR))
    client = Client()
    client.force_login(user)

    newest = AuditEntry.objects.order_by("-sequence").first()
    assert newest is not None, "seed the database first: python -m bench.seed"
    busy_consumer = AuditEntry.objects.filter(action="edit").order_by("-sequence")[500].consumer_ref
    busy_user = newest.username
    deep = AuditEntry.objects.order_by("sequence")[1000].sequence
    month_end = newest.action_time.date()
    month_start = month_end.replace(day=1)
    old_month_start = month_start.replace(year=month_start.year - 1)
    old_month_end = (old_month_start + timedelta(days=31)).replace(day=1) - timedelta(days=1)
    consumer = OrderConsumer.objects.order_by("ref")[OrderConsumer.objects.count() // 2]
    prefix = consumer.last_name[:3]

    def get(url, _status=200, **params):
        def request():
            response = client.get(url, params)
            assert response.status_code == _status, (url, params, response.status_code)
            return response

        return request

    cases = [
        ("Audit log, first page", get("/audit/"), get("/admin/audit/auditentry/")),
        ("Audit log, one consumer", get("/audit/", consumer_ref=busy_consumer),
         get("/admin/audit/auditentry/", q=busy_consumer)),
        ("Audit log, one user", get("/audit/", user=busy_user),
         get("/admin/audit/auditentry/", q=busy_user)),
        ("Audit log, one month", get("/audit/", date_from=month_start, date_to=month_end),
         get("/admin/audit/auditentry/", action_time__gte=month_start, action_time__lte=month_end)),
        ("Audit log, the same month a year earlier",
         get("/audit/", date_from=old_month_start, date_to=old_month_end),
         get("/admin/audit/auditentry/", action_time__gte=old_month_start,
             action_time__lte=old_month_end)),
        ("Audit log, deep page (entry ~1,000 of the oldest)", get("/audit/", before=deep),
         get("/admin/audit/auditentry/", p=AuditEntry.objects.count() // 100 - 10)),
        (f"Consumer search, name prefix “{prefix}”", get("/", kind="name", q=prefix),
         get("/admin/consumers/orderconsumer/", q=prefix)),
        ("Consumer search, by ref (to its page)",
         get("/", kind="consumer", q=consumer.ref, _status=302),
         get("/admin/consumers/orderconsumer/", q=consumer.ref)),
        (f"Search box, name prefix “{prefix}”", get("/find/", q=prefix),
         get("/admin/consumers/orderconsumer/", q=prefix)),
    ]  # fmt: skip
    year_ago = month_end - timedelta(days=365)
    # The dashboard aggregates; the admin has no page to compare it with, so no reference.
    dashboards = [
        ("Dashboard, the last 14 days (its default)", get("/dashboard/")),
        ("Dashboard, the last 90 days",
         get("/dashboard/", date_from=month_end - timedelta(days=90), date_to=month_end)),
        ("Dashboard, a whole year", get("/dashboard/", date_from=year_ago, date_to=month_end)),
    ]  # fmt: skip

    entries, consumers = AuditEntry.objects.count(), OrderConsumer.objects.count()
    print(
        f"{entries:,} audit entries, {consumers:,} consumers, {connection.vendor}, "
        f"{args.runs} runs\n"
    )
    print(HEADER)
    for name, ours, admin in cases:
        ours_result = measure(ours, runs=args.runs)
        admin_result = measure(admin, runs=max(5, args.runs // 3))
        print(row(name, ours_result, admin_result, "p95 ≤ 50 ms, ≥ 5x"))
    # With no daily totals stored (the periodic job not run yet) a view counts every day live,
    # writing nothing; then the job stores them, once.
    for model in (RolledUpDay, DailySaves, DailyFieldChanges):
        model.objects.all().delete()
    unrolled = measure(dashboards[2][1], runs=max(3, args.runs // 3))
    print(row("Dashboard, a whole year, nothing rolled up yet (counted live)", unrolled))
    rollup = measure(lambda: call_command("rollup_dashboard", stdout=StringIO()), runs=1, warmup=0)
    print(row("rollup_dashboard, the first run (every day that is over)", rollup))
    for name, ours in dashboards:
        print(row(name, measure(ours, runs=args.runs), None, "p95 ≤ 500 ms"))


if __name__ == "__main__":
    main()

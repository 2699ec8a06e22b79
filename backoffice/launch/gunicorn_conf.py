"""gunicorn's settings for every way the app is served: `make serve`, the Procfile, systemd, the
container (`gunicorn -c python:backoffice.launch.gunicorn_conf backoffice.wsgi`).

Read from the environment, so one file serves them all: HOST and PORT (or BIND), WEB_CONCURRENCY
workers of WEB_THREADS threads, GUNICORN_TIMEOUT, GUNICORN_KEEPALIVE.
"""

import os

bind = (
    os.environ.get("BIND")
    or f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
)
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
# Threads, because a page mostly waits for CDP: a waiting thread holds no CPU.
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
# Above CDP_PAGE_BUDGET, so a slow CDP page ends with its own message, not a kill.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# Longer than any load balancer or client keeps an idle connection, so the server never closes
# one at the very moment the other end reuses it.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))
accesslog = "-"
# The client's address as the app worked it out (core.proxies; `%(h)s`, the TCP peer, is the
# proxy's behind one, so it comes last, after "via"), the path without its query string (a search
# by name must not land in the access log), and the request id that the app's JSON lines and the
# audit entries carry.
access_log_format = (
    '%({core.client_ip}e)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms '
    "%({x-request-id}o)s via %(h)s"
)
# gunicorn's control socket sits at one path per user: two nodes on one machine (a try-out,
# `make soak-cluster`) would take it from each other, and nothing here uses it.
control_socket_disable = True

"""Simulated support agents for the load test (`python -m bench.load` runs it).

Each agent signs in, then looks consumers up by name, opens orders and consumers, and now and then
edits one and saves. Any answer other than the expected one counts as an error.
"""

import random
import re
import uuid

from locust import HttpUser, between, task

from bench.html_forms import form_fields

# cdp_sandbox.seed's namespace, repeated so this file imports nothing of Django's before gevent.
_NAMESPACE = uuid.UUID("6f1c9a52-3f7e-4d5b-9a2e-1b6d0c8e4f10")

# The CDP sandbox's demo data: the refs are derived from fixed names (cdp_sandbox/seed.py).
ORDERS = [str(uuid.uuid5(_NAMESPACE, f"order-{n}")) for n in range(6)]
CONSUMERS = [str(uuid.uuid5(_NAMESPACE, f"consumer-{n}")) for n in range(12)]
PREFIXES = ["By", "Fe", "Cl", "Hu", "Ma", "Du", "O'", "As", "Aoi", "Lia"]
PASSWORD = "load-test-password-1234"


class Agent(HttpUser):
    wait_time = between(1, 3)

    def on_start(self):
        self.username = f"load{random.randrange(1, 51):03d}"
        page = self.client.get("/accounts/login/", name="sign-in page")
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert found, "the sign-in page carries no CSRF token"
        token = found.group(1)
        self.client.post(
            "/accounts/login/",
            {"username": self.username, "password": PASSWORD, "csrfmiddlewaretoken": token},
            name="sign in",
        )

    @task(4)
    def search_by_name(self):
        self.client.get(f"/?kind=name&q={random.choice(PREFIXES)}", name="search by name")

    @task(2)
    def open_order(self):
        self.client.get(f"/orders/{random.choice(ORDERS)}/", name="order page")

    @task(3)
    def open_consumer(self):
        self.client.get(f"/consumers/{random.choice(CONSUMERS)}/", name="consumer page")

    @task(1)
    def edit_and_save(self):
        ref = random.choice(CONSUMERS)
        form = self.client.get(f"/consumers/{ref}/edit/", name="edit page")
        data = form_fields(form.text)
        data["reason"] = "Load test"
        data["first_name"] = random.choice(["Liam", "Aoife", "Amelia", "Oliver", "Javier", "Chloé"])
        with self.client.post(
            f"/consumers/{ref}/edit/", data, name="save", allow_redirects=False, catch_response=True
        ) as response:
            # Saved, nothing to save, queued or a conflict all answer with a redirect.
            if response.status_code != 302:
                response.failure(f"save answered {response.status_code}")

"""Every page, the app's and the admin's, spells CDP as such, never "Cdp" or "cdp"."""

import re
from html.parser import HTMLParser

import pytest

from audit.services import RequestMeta
from consumers import pushes
from tests.system.test_permission_matrix import URL_NAMES, rule, url_for, world  # noqa: F401

MISSPELT = re.compile(r"\b(?:cdp|Cdp|cDP|CdP)\b")
NOT_HTML = {"audit:export", "consumers:bulk_failures", "admin:jsi18n"}


class _Text(HTMLParser):
    """The text a person reads: no tags, attributes, scripts or styles."""

    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def misspellings(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    text = " ".join(" ".join(parser.parts).split())
    return [text[max(0, m.start() - 40) : m.end() + 40] for m in MISSPELT.finditer(text)]


GET_PAGES = [name for name in URL_NAMES if rule(name)[0] == "GET" and name not in NOT_HTML]


def test_every_page_an_administrator_opens_spells_cdp_as_such(client, world, administrator):  # noqa: F811
    # A resolved conflict reads as history, naming how it was resolved.
    pushes.conflict_discard(push=world["conflict"], user=administrator, meta=RequestMeta())
    client.force_login(administrator)
    found = {}
    for name in GET_PAGES:
        response = client.get(url_for(name, world))
        if response.status_code == 200 and "html" in response.get("Content-Type", ""):
            found[name] = misspellings(response.content.decode())

    bad = {name: bad for name, bad in found.items() if bad}
    assert bad == {}


@pytest.mark.parametrize("resolution", ["reapply", "discard"])
def test_a_resolved_conflict_names_cdp_properly(client, world, agent, resolution):  # noqa: F811
    conflict = world["conflict"]
    resolve = pushes.conflict_reapply if resolution == "reapply" else pushes.conflict_discard
    resolve(push=conflict, user=agent, meta=RequestMeta())
    client.force_login(agent)

    html = client.get(url_for("consumers:conflict", world)).content.decode()

    assert misspellings(html) == []

"""Issue 15, item 7: out-of-range input is the caller's error (4xx, a clear message), never a
500: the listed cases, and a property-based test over every route's path and query
parameters with out-of-range integers."""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from records.accounts import operations as accounts
from tests.conftest import TEST_PASSWORD, login, unique

HUGE = [10**21, 10**23, 2**31, 2**63, 2**64, -1, 0, -(2**63), 10**100]
QUERY = ["page", "per_page", "year", "month", "before", "limit", "days", "from", "to", "date_from", "date_to",
         "q", "office", "batch", "id", "active"]


@pytest.fixture(scope="module")
def chief(inst, app):
    with inst.unit_of_work() as s:
        user = accounts.create_user(s, unique("chief"), TEST_PASSWORD, ["chief"])
        token = accounts.issue_token(s, user, second_factor_roles=())
        name = user.username
    client = app.test_client()
    assert login(client, name).status_code == 302
    return client, {"Authorization": f"Bearer {token}"}


def _ok(r) -> None:
    assert r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])


@pytest.mark.parametrize("path", ["/search?q=date:0001-01-01..9999-12-31", "/api/v1/search?q=date:0001-01-01..9999-12-31",
                                  "/ledger?page=1000000000000000000000", "/api/v1/records?page=" + str(10**23),
                                  "/retention/batches/" + str(10**30), "/api/v1/retention/batches/" + str(10**30)])
def test_the_listed_gets_are_4xx(chief, path):
    client, h = chief
    r = client.get(path, headers=h if path.startswith("/api/") else {})
    assert 400 <= r.status_code < 500, (path, r.status_code)
    if path.startswith("/api/"):
        assert r.get_json()["error"]


@pytest.mark.parametrize("path", ["/retention/holds/" + str(10**30) + "/lift", "/roster/" + str(10**30) + "/remove"])
def test_the_listed_posts_are_4xx(chief, path):
    client, _ = chief
    assert client.post(path, data={"reason": "x"}).status_code == 404


def test_deeply_nested_json_is_400(chief):
    client, h = chief
    body = "[" * 100_000 + "]" * 100_000
    r = client.post("/api/v1/records", data=body, headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.get_json()["error"]


def test_a_newline_in_next_is_no_500(client):
    r = client.get("/lang/en?next=/%0a/x")
    assert r.status_code == 302 and "\n" not in r.headers["Location"]


def _rules(app):
    return sorted((r for r in app.url_map.iter_rules() if r.endpoint != "static"), key=lambda r: r.rule)


def _fill(rule, value: int, text: str) -> str:
    def sub(m):
        converter = m.group(1) or ""
        return str(value) if converter.startswith("int") else text
    return re.sub(r"<(?:([a-z]+)(?:\([^)]*\))?:)?[a-z_]+>", sub, rule.rule)


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(data=st.data())
def test_every_route_with_out_of_range_integers(app, chief, data):
    client, h = chief
    rule = data.draw(st.sampled_from(_rules(app)))
    number = data.draw(st.sampled_from(HUGE))
    text = data.draw(st.sampled_from([str(10**30), "-1", "XF-99999-9999999999", "0"]))
    path = _fill(rule, number, text)
    params = {name: str(data.draw(st.sampled_from(HUGE))) for name in data.draw(
        st.lists(st.sampled_from(QUERY), max_size=4, unique=True))}
    if "q" in params:
        params["q"] = data.draw(st.sampled_from([f"date:{params['q']}..1", "date:0001-01-01..9999-12-31",
                                                 "year:" + params["q"], params["q"]]))
    headers = h if path.startswith("/api/") else {}
    methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    method = data.draw(st.sampled_from(methods))
    if method != "GET" and not any(c in rule.rule for c in ("<int", "<serial", "<prefix", "<code")):
        method = "GET" if "GET" in methods else None      # no state-changing POST without an id to refuse
    if method is None or rule.endpoint in ("auth.logout", "account.end_others"):
        return
    r = client.open(path, method=method, query_string=params, headers=headers, data={})
    _ok(r)

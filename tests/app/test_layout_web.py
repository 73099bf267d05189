"""Layout and accessibility of the server-rendered pages (issue 18), read from the HTML: the skip
link and its target, the favicon, required fields marked, fields in error marked invalid and
tied to their message, the search page without facets, distinct board headings, the trend
chart's last label inside the chart, the roster's month picker. (In a real browser at 390 px:
tests/app/test_layout_browser.py.)"""
from __future__ import annotations

import re

from tests.conftest import login

ZH = {"Accept-Language": "zh-TW"}


def _html(response) -> str:
    return response.get_data(as_text=True)


def test_skip_link_favicon_and_form_script_on_every_page(client, make_user):
    clerk = make_user("clerk")
    for path in ("/login",):
        html = _html(client.get(path, headers=ZH))
        skip = re.search(r'<a class="skip-link" href="#main">([^<]+)</a>', html)
        assert skip and skip.group(1) == "跳至主要內容"
        assert html.index('class="skip-link"') < html.index("<header")  # the first thing a keyboard reaches
        assert '<main id="main" tabindex="-1">' in html
        assert re.search(r'<link rel="icon" type="image/svg\+xml" href="/static/favicon.svg', html)
        assert re.search(r'<script src="/static/forms.js[^"]*" defer></script>', html)
    login(client, clerk.username)
    assert 'class="skip-link"' in _html(client.get("/ledger", headers=ZH))
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml" and b"<svg" in icon.data
    script = client.get("/static/forms.js")
    assert script.status_code == 200 and b"aria-invalid" in script.data


def test_registration_form_marks_required_fields(client, make_user):
    login(client, make_user("clerk").username)
    html = _html(client.get("/records/new", headers=ZH))
    for name in ("channel", "received_at", "subject"):
        assert re.search(rf'<label for="{name}">[^<]+<span class="required-mark" aria-hidden="true"', html), name
        control = re.search(rf'<(?:input|select|textarea)[^>]*\bid="{name}"[^>]*>', html).group(0)
        assert 'aria-required="true"' in control and re.search(r"\brequired\b", control), control
    # an optional field carries no mark
    assert not re.search(r'<label for="petitioner_phone">[^<]*<span class="required-mark"', html)


def test_fields_in_error_are_invalid_and_point_at_their_message(client, make_user):
    login(client, make_user("clerk").username)
    r = client.post("/records/new", data={"channel": "letter", "received_at": "", "region": "110108",
                                          "category": "labour_wages", "people_count": "1", "subject": "",
                                          "body": "內容"}, headers=ZH)
    assert r.status_code == 422
    html = _html(r)
    for name in ("received_at", "subject"):
        control = re.search(rf'<(?:input|textarea)[^>]*\bid="{name}"[^>]*>', html).group(0)
        assert 'aria-invalid="true"' in control and f'aria-describedby="{name}-error"' in control
        assert f'<p class="field-error" id="{name}-error">' in html
    assert 'aria-invalid="true"' not in re.search(r'<select[^>]*\bid="channel"[^>]*>', html).group(0)


def test_search_without_results_spans_the_page(client, make_user):
    login(client, make_user("clerk").username)
    html = _html(client.get("/search?q=無此字詞甲乙丙", headers=ZH))
    assert '<div class="search-results no-facets">' in html and '<aside class="facets"' not in html


def test_board_headings_are_distinct(client, make_user):
    login(client, make_user("leader", oversees=("LDJC",)).username)
    html = _html(client.get("/board", headers=ZH))
    head = re.search(r"<thead>(.*?)</thead>", html, re.S)
    if head is None:  # no open matter in this module's database: the headings are not shown
        return
    names = re.findall(r'<th scope="col">([^<]+)</th>', head.group(1))
    assert len(names) == len(set(names)), names


def test_trend_chart_keeps_its_last_label_inside():
    from app.stats import charts

    months = [(f"2026-{m:02d}", m) for m in range(1, 13)]
    svg = str(charts.trend("t", months))
    width = int(re.search(r'viewBox="0 0 (\d+) ', svg).group(1))
    last = re.findall(r'<text class="label" x="([\d.]+)" y="[\d.]+" text-anchor="middle">2026-12</text>', svg)
    # "2026-12" at 12 px is about 45 px wide, centred on its point
    assert last and float(last[0]) + 23 <= width
    bars = str(charts.bars("b", [("Research project management / Project funds", 3), ("短", 1)]))
    assert "Research project m…" in bars and "Research project management / Project funds: 3" in bars


def test_roster_has_a_month_picker(client, make_user):
    login(client, make_user("leader").username)
    html = _html(client.get("/roster?month=2026-03", headers=ZH))
    assert re.search(r'<form method="get" action="/roster" class="month-pick">', html)
    assert re.search(r'<input type="month" id="month-pick" name="month" value="2026-03"', html)
    assert re.search(r'<input[^>]*id="month"[^>]*type="month"|<input[^>]*type="month"[^>]*id="month"', html)


def test_workflow_steps_mark_what_they_require(client, make_user, make_record):
    clerk, leader = make_user("clerk"), make_user("leader")
    serial = make_record(clerk)
    login(client, leader.username)
    html = _html(client.get(f"/records/{serial}", headers=ZH))
    store = re.search(r'<form method="post" action="/records/[^"]+/transitions/store".*?</form>', html, re.S).group(0)
    reason = re.search(r'<select[^>]*id="store-reason_code"[^>]*>', store).group(0)
    assert re.search(r"\brequired\b", reason) and 'aria-required="true"' in reason
    assert re.search(r'<label for="store-reason_code">[^<]+<span class="required-mark"', store)
    assert not re.search(r'<label for="store-note">[^<]*<span class="required-mark"', store)

"""Issue 18: each role starts where its work is, and its menu shows only what it may open."""
from __future__ import annotations

import pytest

from tests.conftest import login

LANDING = {
    "handler": "/desk/mine",
    "leader": "/desk/decisions",
    "chief": "/desk/decisions",
    "admin": "/admin/users",
    "archivist": "/retention",
    "inspector": "/stats",
    "clerk": "/ledger",
}


@pytest.mark.parametrize("role", sorted(LANDING))
def test_each_role_lands_on_its_work(app, make_user, role):
    user = make_user(role)
    web = app.test_client()
    res = login(web, user.username)
    assert res.status_code == 302 and res.headers["Location"].startswith(LANDING[role]), res.headers["Location"]
    home = web.get("/")
    assert home.status_code == 302 and home.headers["Location"].startswith(LANDING[role])
    page = web.get(home.headers["Location"])
    assert page.status_code == 200


def test_admin_menu_has_accounts_not_ledger(app, make_user):
    web = app.test_client()
    login(web, make_user("admin").username)
    page = web.get("/admin/users").get_data(as_text=True)
    nav = page[page.index('class="main-nav"'):page.index("</nav>")]
    assert "/admin/users" in nav and "/ledger" not in nav


def test_handler_sees_own_matters_with_counts(app, make_user, make_record):
    handler = make_user("handler")
    web = app.test_client()
    login(web, handler.username)
    page = web.get("/desk/mine").get_data(as_text=True)
    assert "今日到期" in page and "七日內到期" in page


def test_desk_refusals(app, make_user):
    for role, path in (("clerk", "/desk/mine"), ("admin", "/desk/mine"), ("handler", "/desk/decisions"),
                       ("archivist", "/desk/decisions"), ("inspector", "/desk/decisions")):
        web = app.test_client()
        login(web, make_user(role).username)
        assert web.get(path).status_code == 403, (role, path)


def test_matters_and_decisions_list_the_letter(app, make_user, make_record):
    serial = make_record(make_user("clerk"))
    handler, chief = make_user("handler", office="XFB"), make_user("chief")
    web = app.test_client()
    login(web, handler.username)
    assert serial in web.get("/desk/mine").get_data(as_text=True)
    boss = app.test_client()
    login(boss, chief.username)
    page = boss.get("/desk/decisions").get_data(as_text=True)
    assert serial in page and "待受理事項" in page

"""Polling an IMAP mailbox (imaplib) against a local IMAP server started by the test: unseen
messages registered and marked seen, duplicates marked seen, a second poll finds nothing,
a wrong password is a clear refusal."""
from __future__ import annotations

import pytest

from app.cli import cli

from .imapserver import Store, serve
from .test_mail import message


@pytest.fixture
def mailbox_server():
    store = Store("xinfang", "s3cret")
    server, port = serve(store)
    yield store, port
    server.shutdown()
    server.server_close()


def _poll(runner, port, clerk, password="s3cret"):
    return runner.invoke(cli, ["intake", "imap", "--host", "127.0.0.1", "--port", str(port), "--no-tls",
                               "--user", "xinfang", "--password-stdin", "--as", clerk.username, "--region", "110108"],
                         input=password + "\n")


def test_unseen_messages_are_registered_and_marked_seen(app, inst, make_user, runner, mailbox_server):
    store, port = mailbox_server
    clerk = make_user("clerk")
    first = message("gb2312", subject="反映物業亂收費", sender="張三", body="物業公司亂收費。",
                    attachments=[("收据.txt", "收費單".encode("gbk"), "octet-stream")])
    store.add(first)
    store.add(message("big5", subject="臺胞來信", sender="李四", body="請協助查詢專利進度。"))
    store.add(first)  # the same message twice in the mailbox
    result = _poll(runner, port, clerk)
    assert result.exit_code == 0, result.output
    assert result.output.count(": registered as XF-") == 2
    assert "message 3: refused: This e-mail (same Message-ID) was already registered" in result.output
    assert store.seen == {1, 2, 3}
    again = _poll(runner, port, clerk)
    assert again.exit_code == 0 and "0 of 0 unseen message(s) registered." in again.output


def test_a_wrong_password_is_refused_clearly(app, inst, make_user, runner, mailbox_server):
    _, port = mailbox_server
    clerk = make_user("clerk")
    result = _poll(runner, port, clerk, password="wrong")
    assert result.exit_code == 1 and "refused the user name or password" in result.output

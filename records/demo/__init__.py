"""Demonstration data: one account per role and realistic sample letters and visits.

Everything goes through the ordinary services (``accounts.create_user``,
``operations.register``, ``workflow.transition``), so demo records are sealed, indexed and
audited like any other. Passwords are random and returned once; nothing here prints.

The sample content is fictional: made-up companies, made-up people with well-formed (but
invented) resident ID numbers and phone numbers. One module per job: ``accounts`` (the demo
staff), ``people`` (petitioners), ``topics`` (what they write about), ``planning`` (channels,
dates and writers of a batch), ``letters`` (the text of one record), ``scans`` (a scanned
page), ``registration`` (registering the batch) and ``progress`` (its life in the workflow).
"""
from records.demo.accounts import DEMO_USERS, DemoUser, create_demo_users
from records.demo.progress import advance_demo_records
from records.demo.registration import add_demo_records

__all__ = ["DEMO_USERS", "DemoUser", "add_demo_records", "advance_demo_records", "create_demo_users"]

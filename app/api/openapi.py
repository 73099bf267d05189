"""The OpenAPI 3.1 document of /api/v1, kept next to the views it describes."""
from __future__ import annotations

from records.reference.vocab import CHANNELS

ERROR = {"$ref": "#/components/schemas/Error"}


def _err(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


COMMON_ERRORS = {"401": _err("Missing, unknown, expired or revoked token."),
                 "403": _err("The token's user may not do this.")}


def _record_schemas() -> dict:
    """The schemas of a record: what registration takes, a ledger line, a whole record."""
    petitioner = {
        "type": "object", "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "maxLength": 100},
            "id_number": {"type": "string", "maxLength": 18, "description": "18-character resident ID."},
            "phone": {"type": "string", "maxLength": 30},
            "address": {"type": "string", "maxLength": 300},
        },
    }
    new_record = {
        "type": "object", "additionalProperties": False,
        "required": ["channel", "received_at", "region", "category", "subject", "body"],
        "properties": {
            "channel": {"type": "string", "enum": list(CHANNELS)},
            "received_at": {"type": "string", "description": "ISO 8601 date or date-time; naive values are "
                            "in the office's time zone. Not in the future.", "examples": ["2026-11-25T09:30"]},
            "region": {"type": "string", "pattern": "^[0-9]{6}$"},
            "category": {"type": "string", "description": "A code of the bureau's vocabulary "
                         "(GET /api/v1/categories); deactivated codes are refused."},
            "subject": {"type": "string", "minLength": 1, "maxLength": 200},
            "body": {"type": "string", "minLength": 1, "maxLength": 20000},
            "notes": {"type": "string", "maxLength": 5000},
            "people_count": {"type": "integer", "minimum": 1, "maximum": 10000},
            "petitioner": petitioner,
            "first_responder": {"type": "string", "description": "User name of the first responder (首問責任人): "
                                "a leader or the chief (default: the registering user)."},
            "complained_unit": {"type": "string", "description": "Code of the office or unit the letter complains "
                                "about (statistics: units complained about most)."},
            "confirm_old_received_date": {"type": "boolean", "default": False, "description": (
                "true confirms a received_at more than a year before today; without it such a letter is "
                "refused (422), since once stored it may be destroyed at once.")},
        },
    }
    ledger_line = {
        "type": "object",
        "properties": {
            "serial": {"type": "string", "pattern": "^XF-[0-9]{4}-[0-9]{6}$"},
            "received_at": {"type": "string"}, "channel": {"type": "string"}, "region": {"type": "string"},
            "category": {"type": "string"}, "status": {"type": "string"}, "office": {"type": "string"},
            "people_count": {"type": "integer"}, "first_responder": {"type": ["string", "null"]},
            "subject": {"type": ["string", "null"], "description": "Only when the caller may read the content."},
        },
    }
    return {
        "NewRecord": new_record,
        "Petitioner": petitioner,
        "LedgerLine": ledger_line,
        "Record": {"type": "object", "properties": {
            **ledger_line["properties"],
            "registered_by": {"type": "string"}, "registered_at": {"type": "string"},
            "doc_version": {"type": "integer"},
            "region_detail": {"type": "object", "description": "The region's names (both scripts), whether the "
                              "code is retired (and its successor) and whether it lies outside the bureau's area."},
            "content": {"type": ["object", "null"]}, "petitioner": {"type": ["object", "null"]},
            "attachments": {"type": "array", "items": {"type": "object"}},
            **WORKFLOW_RECORD_PROPERTIES,
        }},
    }


SERIAL_PARAM = {"name": "serial", "in": "path", "required": True,
                "schema": {"type": "string", "pattern": "^XF-[0-9]{4}-[0-9]{6}$"}}


def _record_paths(serial_param: dict) -> dict:
    """Registration, the ledger, one record and its attachments."""
    return {
        "/records": {
            "post": {
                "summary": "Register a letter or visit",
                "operationId": "registerRecord",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/NewRecord"}}}},
                "responses": {
                    "201": {"description": "Registered.", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"serial": {"type": "string"}, "url": {"type": "string"}}}}}},
                    "400": _err("Not JSON."), "413": _err("Too large."),
                    "422": _err("Invalid fields; `fields` names each."), **COMMON_ERRORS,
                },
            },
            "get": {
                "summary": "The ledger (臺帳): records the caller may see, newest first",
                "operationId": "listRecords",
                "parameters": [
                    {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                    for n in ("channel", "status", "region", "category")
                ] + [
                    {"name": "date_from", "in": "query", "schema": {"type": "string", "format": "date"}},
                    {"name": "date_to", "in": "query", "schema": {"type": "string", "format": "date"}},
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                ],
                "responses": {
                    "200": {"description": "A page of ledger lines.", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {
                            "total": {"type": "integer"}, "page": {"type": "integer"},
                            "per_page": {"type": "integer"}, "pages": {"type": "integer"},
                            "items": {"type": "array", "items": {"$ref": "#/components/schemas/LedgerLine"}}}}}}},
                    "422": _err("Invalid filter."), **COMMON_ERRORS,
                },
            },
        },
        "/records/{serial}": {
            "get": {
                "summary": "One record; content and identity only as the caller's role allows",
                "operationId": "getRecord",
                "parameters": [serial_param],
                "responses": {
                    "200": {"description": "The record.", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Record"}}}},
                    "404": _err("No such record, or not visible to the caller."), **COMMON_ERRORS,
                },
            },
        },
        "/records/{serial}/attachments": {
            "post": {
                "summary": "Add attachments (multipart field `file`)",
                "operationId": "addAttachments",
                "parameters": [serial_param],
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}}}},
                "responses": {"201": {"description": "Added."}, "404": _err("No such record."),
                              "413": _err("Too large."), "422": _err("Type not accepted."), **COMMON_ERRORS},
            },
        },
        "/records/{serial}/attachments/{attachment_id}": {
            "get": {
                "summary": "Download one attachment (decrypted, audited)",
                "operationId": "getAttachment",
                "parameters": [serial_param, {"name": "attachment_id", "in": "path", "required": True,
                                              "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}],
                "responses": {"200": {"description": "The file."}, "404": _err("No such attachment."),
                              **COMMON_ERRORS},
            },
        },
    }


def openapi_document() -> dict:
    serial_param = SERIAL_PARAM
    return {
        "openapi": "3.1.0",
        "info": {"title": "Xinfang Records API", "version": "1",
                 "description": "Register and read petition letters and visits. Every read of content "
                                "is audited; identity is masked unless the caller's role allows it."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "A token from `xinfang users token NAME`."}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "fields"],
                          "properties": {"error": {"type": "string"},
                                         "fields": {"type": "object", "additionalProperties": {"type": "string"}}}},
                **_record_schemas(),
                **WORKFLOW_SCHEMAS,
            },
        },
        "paths": {
            **_record_paths(serial_param),
            **workflow_paths(serial_param),
            **search_paths(),
            **_retention_paths(),
            **stats_paths(),
            **_reference_paths(),
        },
    }


# -- the life of a matter (records/workflow.py, records/board.py) ----------------------------------
def _workflow_names() -> list[str]:
    from records.cases.workflow import NAMES

    return list(NAMES)


DUE = {
    "type": "object",
    "description": "A time limit or window and how it was computed (records/deadlines.py).",
    "properties": {
        "kind": {"type": "string", "enum": ["decision", "conclusion", "return", "review_request", "review_reply",
                                            "rereview_request", "rereview_reply", "handed_down"]},
        "party": {"type": "string", "enum": ["office", "petitioner", "unit"],
                  "description": "Whose clock: a limit the office must meet, or a window to ask or return in."},
        "on": {"type": "string", "format": "date"}, "start": {"type": "string", "format": "date"},
        "days": {"type": "integer"}, "working_days": {"type": "boolean"},
        "base_on": {"type": "string", "format": "date"},
        "cap": {"type": "string", "format": "date", "description": "The latest this date may ever become."},
        "extension": {"type": ["object", "null"], "properties": {
            "days": {"type": "integer"}, "on": {"type": "string", "format": "date"}, "by": {"type": "string"},
            "reason": {"type": "string", "description": "Only for callers who may read the content."}}},
        "met_on": {"type": ["string", "null"], "format": "date"},
        "assumed": {"type": ["string", "null"],
                    "description": "What the start assumes (e.g. the day of receipt not yet recorded)."},
        "days_left": {"type": ["integer", "null"]}, "overdue": {"type": "boolean"},
        "explanation": {"type": "string", "examples": [
            "accepted 2026-03-02 + 60 days = 2026-05-01; extended 30 days on 2026-04-20 by 王局長: … = 2026-05-31"]},
    },
}

WORKFLOW_RECORD_PROPERTIES = {
    "final": {"type": "boolean", "description": "Concluded after re-review (Art 11)."},
    "due": {"type": "array", "items": {"$ref": "#/components/schemas/Due"}},
    "current_due": {"oneOf": [{"$ref": "#/components/schemas/Due"}, {"type": "null"}]},
    "transitions": {"type": "array", "items": {"type": "string"},
                    "description": "The transitions the caller may apply now."},
    "transferred_unit": {"type": ["string", "null"]},
    "decided_by": {"type": ["string", "null"]}, "approved_by": {"type": ["string", "null"]},
    "extension_approved_by": {"type": ["string", "null"]},
    "decision_reason": {"type": ["string", "null"]}, "stored_reason": {"type": ["string", "null"]},
    "findings": {"type": "array", "items": {"type": "object", "properties": {
        "stage": {"type": "string"}, "outcome": {"type": "string"}, "at": {"type": "string"}, "by": {"type": "string"},
        "corrective_action": {"type": "string"}, "evidence": {"type": "string"}}}},
}


def _transition_request() -> dict:
    return {
        "type": "object", "required": ["transition"], "additionalProperties": False,
        "description": "Which fields each transition requires is printed by `xinfang workflow table`.",
        "properties": {
            "transition": {"type": "string", "enum": _workflow_names()},
            "reason": {"type": "string", "description": "Free text (sealed), or for `store` one of "
                       "concluded_after_rereview, repeat_already_answered, no_reference_value, unclear_content, "
                       "and for `decline_legal_channel` one of litigation, arbitration, administrative_reconsideration."},
            "note": {"type": "string", "description": "An internal note (sealed)."},
            "office": {"type": "string", "description": "`assign`: code of an internal office (for `transfer` "
                       "it may name the unit)."},
            "unit": {"type": "string", "description": "`transfer`: code of an external unit."},
            "days": {"type": "integer", "minimum": 1, "maximum": 30, "description": "`extend`: days added (once)."},
            "text": {"type": "string", "description": "The written answer (replies, direct answer)."},
            "on": {"type": "string", "format": "date", "description": "Date of a request, a reply or a receipt "
                   "(default today)."},
            "received_on": {"type": "string", "format": "date",
                            "description": "Day the petitioner received the answer (until recorded, the review "
                                           "window assumes the answer's date; see `acknowledge_receipt`)."},
            "finding": {"type": "object", "properties": {
                "outcome": {"type": "string", "enum": ["substantiated", "partly_substantiated", "not_substantiated"]},
                "corrective_action": {"type": "string"}, "action_due_on": {"type": "string", "format": "date"},
                "evidence": {"type": "string"}}},
            "repeat_of": {"type": "string", "description": "`store`: serial of the earlier matter (required for "
                          "concluded_after_rereview)."},
            "body": {"type": "string", "description": "`request_review`/`request_rereview`: the body asked (default "
                     "for a review: the letterhead's superior body); `record_handed_down`: the body that handed "
                     "the matter down."},
            "document_number": {"type": "string", "description": "The outside document's number (文號)."},
            "document": {"type": "string", "format": "binary", "description": "`record_review_outcome`/"
                         "`record_rereview_outcome`: the decision itself (PDF or image), sent as "
                         "multipart/form-data with the other fields as form fields; it becomes a sealed attachment "
                         "(kind review_decision / rereview_decision), opened like any attachment."},
            "outcome": {"type": "string", "enum": ["upheld", "changed", "revoked"],
                        "description": "`record_review_outcome`/`record_rereview_outcome`."},
            "due_on": {"type": "string", "format": "date", "description": "`record_handed_down`: its deadline."},
            "report_back": {"type": "boolean", "description": "`record_handed_down`: a report-back (報結) is "
                            "required (default true)."},
            "finding_id": {"type": "integer", "description": "`confirm_corrective_action`: the finding."},
            "remit": {"type": "string", "enum": ["staff_or_family", "bureau_functions", "bureau_stability"],
                      "description": "`accept`: why the petitioner is within the bureau's remit (Art 4)."},
            "review_of_unit": {"type": "string", "description": "`accept`: code of the subordinate unit whose "
                               "decision this matter asks us to review (answered within 30 days)."},
            "representatives": {"type": "array", "maxItems": 5, "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "id_number": {"type": "string"}, "phone": {"type": "string"}}}},
            "conduct": {"type": "object", "description": "`record_conduct` (Art 16).", "properties": {
                "kinds": {"type": "array", "items": {"type": "string"}},
                "actions": {"type": "array", "items": {"type": "string"}},
                "description": {"type": "string"}, "occurred_on": {"type": "string", "format": "date"}}},
        },
    }


BOARD_ROW = {"type": "object", "properties": {
    "serial": {"type": "string"}, "status": {"type": "string"}, "received_on": {"type": "string", "format": "date"},
    "office": {"type": "string"}, "office_name": {"type": "string"}, "transferred_unit": {"type": ["string", "null"]},
    "first_responder": {"type": ["string", "null"]}, "leader": {"type": ["string", "null"]},
    "due_kind": {"type": ["string", "null"]}, "due_on": {"type": ["string", "null"], "format": "date"},
    "days_left": {"type": ["integer", "null"]}, "overdue": {"type": "boolean"}, "due_soon": {"type": "boolean"},
    "extended": {"type": "boolean"}, "in_review": {"type": "boolean"}, "major": {"type": "boolean"},
    "handed_down": {"type": "boolean"},
    "concluding": {"type": "boolean", "description": "Answered, the petitioner's window closed with no request: "
                                                     "the daily sweep concludes it."},
    "window_closed_on": {"type": ["string", "null"], "format": "date"},
    "explanation": {"type": "string", "description": "Without the sealed reason of an extension."},
}}

WORKFLOW_SCHEMAS = {"Due": DUE, "BoardRow": BOARD_ROW}


def workflow_paths(serial_param: dict) -> dict:
    return {
        "/records/{serial}/transitions": {
            "post": {
                "summary": "Apply a workflow transition (accept, assign, transfer, reply, extend, …)",
                "description": "Checks, in order: the caller's permission (403/404), the record's state (409), "
                               "the fields (422), the guards such as time windows (409). Returns the record "
                               "with `applied` describing the step and the letter it issued, if any.",
                "operationId": "applyTransition",
                "parameters": [serial_param],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _transition_request()},
                                                              "multipart/form-data": {"schema": _transition_request()}}},
                "responses": {
                    "200": {"description": "Applied.", "content": {"application/json": {"schema": {
                        "$ref": "#/components/schemas/Record"}}}},
                    "400": _err("Not JSON."), "404": _err("No such record, or not visible to the caller."),
                    "409": _err("Not possible in the record's state, or a guard refused (e.g. window closed)."),
                    "422": _err("Missing or invalid fields; `fields` names each."), **COMMON_ERRORS,
                },
            },
        },
        **_reply_paths(serial_param),
        "/board": {
            "get": {
                "summary": "The supervision board (督辦): overdue, due within 7 days, extended, in review, major "
                           "cases, handed-down matters",
                "description": "Clear metadata only (no content, no identities). Filter by `bucket` (overdue, "
                               "due_soon, extended, in_review, major, handed_down, concluding, open), `office` "
                               "(an office or external unit code), `leader` and `first_responder` (user names).",
                "operationId": "getBoard",
                "parameters": [
                    {"name": "bucket", "in": "query", "schema": {"type": "string", "enum": [
                        "overdue", "due_soon", "extended", "in_review", "major", "handed_down", "concluding",
                        "open"]}},
                    {"name": "office", "in": "query", "schema": {"type": "string"}},
                    {"name": "leader", "in": "query", "schema": {"type": "string"}},
                    {"name": "first_responder", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {"description": "The board.", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {
                            "today": {"type": "string", "format": "date"}, "filters": {"type": "object"},
                            "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                            "items": {"type": "array", "items": {"$ref": "#/components/schemas/BoardRow"}}}}}}},
                    "422": _err("Invalid filter."), **COMMON_ERRORS,
                },
            },
        },
    }


def _reply_paths(serial_param: dict) -> dict:
    """The handler's reply: a preview that is the printed letter, and a sealed draft."""
    text = {"type": "object", "properties": {"text": {"type": "string"}}}
    draft = {"type": ["object", "null"], "properties": {
        "text": {"type": "string"}, "saved_at": {"type": "string", "format": "date-time"}, "by": {"type": "string"}}}
    return {
        "/records/{serial}/reply/preview": {"post": {
            "summary": "The written reply exactly as it will be printed (the document number aside)",
            "operationId": "previewReply", "parameters": [serial_param],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"text": {"type": "string"}, "finding": {"type": "object"},
                                                 "on": {"type": "string", "format": "date"}}}}}},
            "responses": {"200": {"description": "The letter, line for line.", "content": {"application/json": {
                "schema": {"type": "object", "properties": {
                    "kind": {"type": "string"}, "lines": {"type": "array", "items": {"type": "string"}},
                    "text": {"type": "string"}}}}}},
                "404": _err("No such record."), "422": _err("Invalid fields."), **COMMON_ERRORS}}},
        "/records/{serial}/reply/draft": {
            "get": {"summary": "The saved draft of the reply (null when none)", "operationId": "getReplyDraft",
                    "parameters": [serial_param],
                    "responses": {"200": {"description": "The draft.", "content": {"application/json": {
                        "schema": draft}}}, "404": _err("No such record."), **COMMON_ERRORS}},
            "put": {"summary": "Save the draft of the reply (sealed)", "operationId": "putReplyDraft",
                    "parameters": [serial_param],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": text}}},
                    "responses": {"200": {"description": "Saved.", "content": {"application/json": {
                        "schema": draft}}}, "404": _err("No such record."), "422": _err("Empty or too long."),
                        **COMMON_ERRORS}},
        },
    }


# -- search and identity look-ups (search/query.py, search/lookups.py) ------------------------------
def search_paths() -> dict:
    from search.lookups import KINDS, LIMIT_PER_HOUR, MIN_REASON_WIDTH
    from search.query import MAX_PER_PAGE

    query_params = [
        {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 500},
         "description": "Query: words or characters (any part of a Chinese phrase of two characters or more; "
                        "Traditional and Simplified find each other), \"quoted phrases\", AND / OR / NOT, "
                        "parentheses, -word, and filters status: channel: region: category: office: "
                        "year:2026 (or 2024..2026) date:2026-03 (or a..b). Prefix, wildcard (*, ?) and fuzzy (~) "
                        "searches are refused with 422."},
        *({"name": n, "in": "query", "schema": {"type": "string"}}
          for n in ("status", "channel", "region", "category", "office", "year")),
        {"name": "date_from", "in": "query", "schema": {"type": "string", "format": "date"}},
        {"name": "date_to", "in": "query", "schema": {"type": "string", "format": "date"}},
        {"name": "sort", "in": "query", "schema": {"type": "string", "enum": ["relevance", "newest", "oldest"]}},
        {"name": "in", "in": "query", "schema": {"type": "string", "enum": ["attachments"]},
         "description": "attachments: the text must be found in the text extracted from the letter's attachments "
                        "(scans recognised by OCR, documents, e-mail attachments). The facet `in` counts those hits."},
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
        {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}},
    ]
    hit = {"type": "object", "properties": {
        "serial": {"type": "string"},
        "score": {"type": ["number", "null"], "description": "Relevance (null when sorted by date)."},
        "snippet": {"type": "string", "description": "A passage of the letter, HTML-escaped, matches in <mark>."},
        "subject": {"type": "string", "description": "The subject, HTML-escaped, matches in <mark>."},
        "attachment_snippet": {"type": "string", "description": "A passage of an attachment's extracted text, "
                               "HTML-escaped, matches in <mark>, when the match is there and not in the letter "
                               "(else empty)."},
        "status": {"type": "string"}, "channel": {"type": "string"}, "region": {"type": "string"},
        "category": {"type": "string"}, "received_at": {"type": "string"}, "url": {"type": "string"}}}
    return {
        "/search": {
            "get": {
                "summary": "Full-text search of the letters the caller may read",
                "description": "Hits are only letters whose content the caller may read (checked in the index and "
                               "again on each hit); facet counts cover those letters only. Snippets are made from "
                               "the decrypted letters and audited; the query text is never stored.",
                "operationId": "search",
                "parameters": query_params,
                "responses": {
                    "200": {"description": "A page of hits with facet counts.", "content": {"application/json": {
                        "schema": {"type": "object", "required": ["total", "hits", "facets"], "properties": {
                            "total": {"type": "integer"}, "page": {"type": "integer"},
                            "per_page": {"type": "integer"}, "pages": {"type": "integer"}, "sort": {"type": "string"},
                            "hits": {"type": "array", "items": hit},
                            "facets": {"type": "object", "description": "facet (status, channel, region, year, "
                                       "category) → value → count", "additionalProperties": {
                                           "type": "object", "additionalProperties": {"type": "integer"}}}}}}}},
                    "422": _err("Unreadable query, refused prefix/wildcard/fuzzy search, or invalid filter."),
                    **COMMON_ERRORS,
                },
            },
        },
        "/lookups": {
            "post": {
                "summary": "Confidential identity look-up: every letter of one petitioner (leaders and the chief)",
                "description": f"By ID number, phone or name, with a reason of at least {MIN_REASON_WIDTH} characters "
                               f"({MIN_REASON_WIDTH // 2} Chinese characters). Audited with the reason and the count; "
                               f"at most {LIMIT_PER_HOUR} look-ups per user per hour (429 beyond).",
                "operationId": "lookup",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["kind", "value", "reason"], "additionalProperties": False,
                    "properties": {"kind": {"type": "string", "enum": list(KINDS)},
                                   "value": {"type": "string", "maxLength": 100},
                                   "reason": {"type": "string", "maxLength": 500}}}}}},
                "responses": {
                    "200": {"description": "The letters the caller may see, newest first.", "content": {
                        "application/json": {"schema": {"type": "object", "properties": {
                            "kind": {"type": "string"}, "count": {"type": "integer"},
                            "remaining_this_hour": {"type": "integer"},
                            "items": {"type": "array", "items": {"$ref": "#/components/schemas/LedgerLine"}}}}}}},
                    "400": _err("Not JSON."), "422": _err("Missing reason, reason too short, or invalid value."),
                    "429": _err("Too many look-ups this hour."), **COMMON_ERRORS,
                },
            },
        },
    }


def _reference_paths() -> dict:
    from ..reference.openapi import reference_paths

    return reference_paths()


def _retention_paths() -> dict:
    from ..retention.openapi import retention_paths

    return retention_paths()


# -- statistics (records/stats.py) -------------------------------------------------------------------
def stats_paths() -> dict:
    from records.reporting.stats import MIN_COUNT

    counts = {"type": "object", "additionalProperties": {"type": "integer"}}
    return {
        "/stats": {
            "get": {
                "summary": "Statistics over the caller's ledger scope (counts from metadata only)",
                "description": "Counts of the period by channel, category, region, office, status and month; "
                               "replies on time per office; open and overdue matters now; repeat letters and "
                               "petitioners; hot issues (rising categories, frequent terms). Figures derived "
                               f"from identities or terms below {MIN_COUNT} are null or left out. Needs the "
                               "leader, chief or inspector role.",
                "operationId": "getStats",
                "parameters": [
                    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"},
                     "description": "First day (default: 1 January of this year)."},
                    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"},
                     "description": "Last day (default: today)."},
                    {"name": "as_of", "in": "query", "schema": {"type": "string", "format": "date"},
                     "description": "The day open and overdue matters are counted as of, by the supervision "
                                    "board's rule (default: today; not in the future)."},
                    {"name": "office", "in": "query", "schema": {"type": "string"}, "description": "An office code."},
                    {"name": "by", "in": "query", "schema": {"type": "string"},
                     "description": "Comma-separated breakdowns to include: channel, category, region, office, "
                                    "status, month (default: all)."},
                ],
                "responses": {
                    "200": {"description": "The statistics.", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {
                            "filters": {"type": "object"}, "today": {"type": "string", "format": "date"},
                            "min_count": {"type": "integer"}, "total": {"type": "integer"},
                            "people": {"type": "integer"}, "visits": {"type": "integer"},
                            "by_channel": counts, "by_category": counts, "by_region": counts, "by_office": counts,
                            "by_status": counts,
                            "by_month": {"type": "array", "items": {"type": "object", "properties": {
                                "month": {"type": "string"}, "count": {"type": "integer"}}}},
                            "on_time": {"type": "array", "items": {"type": "object", "properties": {
                                "office": {"type": "string"}, "replied": {"type": "integer"},
                                "on_time": {"type": "integer"}, "rate": {"type": ["number", "null"]}}}},
                            "on_time_rate": {"type": ["number", "null"]},
                            "open": {"type": "integer"}, "overdue": {"type": "integer"},
                            "overdue_by_office": counts, "transferred": counts, "assigned": {"type": "integer"},
                            "extended": {"type": "integer"}, "stored": {"type": "integer"},
                            "repeat_letters": {"type": "integer"},
                            "repeat_petitioners": {"type": ["integer", "null"]},
                            "hot_categories": {"type": "array", "items": {"type": "object", "properties": {
                                "category": {"type": "string"}, "count": {"type": "integer"},
                                "previous": {"type": "integer"}}}},
                            "frequent_terms": {"type": "array", "items": {"type": "object", "properties": {
                                "term": {"type": "string"}, "count": {"type": "integer"}}}},
                        }}}}},
                    "422": _err("Invalid filter."), **COMMON_ERRORS,
                },
            },
        },
    }

"""OpenAPI paths of /api/v1/retention (merged into app/api/openapi.py's document)."""
from __future__ import annotations

from retention.schedules import REASONS


def _err(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


ERRORS = {"401": _err("Missing, unknown, expired or revoked token."), "403": _err("The token's user may not do this.")}
BATCH_ID = {"name": "batch_id", "in": "path", "required": True, "schema": {"type": "integer"}}
COUNTS = {"type": "object", "properties": {r: {"type": "integer"} for r in REASONS}}
RUN = {
    "type": ["object", "null"], "description": "The batch's latest destruction job: status, progress (phase: "
    "starting, prepare, delete, index, compact, verify, certified), then certificate and residue check.",
    "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string"},
        "status": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
        "attempts": {"type": "integer"},
        "progress": {"type": "object", "properties": {"done": {"type": "integer"},
                                                      "total": {"type": ["integer", "null"]},
                                                      "note": {"type": "string"}}},
        "certificate": {"type": ["string", "null"]}, "destroyed": {"type": ["integer", "null"]},
        "residue_clean": {"type": ["boolean", "null"]}, "error": {"type": ["string", "null"]},
        "created_at": {"type": ["string", "null"]}, "finished_at": {"type": ["string", "null"]}},
}
BATCH = {
    "type": "object", "description": "A (region, year) batch of stored letters: metadata only, never content.",
    "properties": {
        "id": {"type": "integer"}, "region": {"type": "string"}, "year": {"type": "integer"},
        "state": {"type": "string", "enum": ["open", "sealed", "proposed", "approved", "destroyed", "certified"]},
        "letters": {"type": "integer"}, "counts": COUNTS, "due_on": {"type": "string", "format": "date"},
        "due": {"type": "boolean"}, "held": {"type": "boolean"}, "held_letters": {"type": "integer"},
        "destroyed": {"type": "integer"}, "rounds": {"type": "integer"},
        "proposed_by": {"type": ["string", "null"]}, "approved_by": {"type": ["string", "null"]},
        "letters_list": {"type": "array", "items": {"type": "object", "properties": {
            "serial": {"type": "string"}, "reason": {"type": "string", "enum": list(REASONS)},
            "received_on": {"type": "string", "format": "date"}, "stored_on": {"type": "string", "format": "date"},
            "state": {"type": "string"}, "excluded_reason": {"type": ["string", "null"]}}}},
        "run": RUN,
    },
}
HOLD = {"type": "object", "properties": {
    "id": {"type": "integer"}, "serial": {"type": ["string", "null"]}, "batch": {"type": ["integer", "null"]},
    "reason": {"type": "string"}, "placed_by": {"type": "string"}, "placed_at": {"type": "string"},
    "lifted_at": {"type": ["string", "null"]}, "lifted_by": {"type": ["string", "null"]},
    "lift_reason": {"type": ["string", "null"]}}}
REASON_BODY = {"content": {"application/json": {"schema": {
    "type": "object", "required": ["reason"], "properties": {"reason": {"type": "string", "maxLength": 500}}}}}}


def _ok(schema: dict, description: str = "OK", code: str = "200") -> dict:
    return {code: {"description": description, "content": {"application/json": {"schema": schema}}}}


def _action(summary: str, extra: dict | None = None, body: dict | None = None) -> dict:
    op = {"summary": summary, "parameters": [BATCH_ID],
          "responses": {**_ok(BATCH), **ERRORS, "404": _err("No such batch."),
                        "409": _err("The batch is not in a state that allows this."), **(extra or {})}}
    if body:
        op["requestBody"] = body
    return {"post": op}


def retention_paths() -> dict:
    return {
        "/retention/batches": {"get": {
            "summary": "Batches with counts per reason, due dates and holds (archivists, leaders, inspectors).",
            "parameters": [{"name": n, "in": "query", "required": False, "schema": {"type": t}}
                           for n, t in (("state", "string"), ("region", "string"), ("year", "integer"))],
            "responses": {**_ok({"type": "object", "properties": {"items": {"type": "array", "items": BATCH}}}),
                          **ERRORS, "422": _err("A bad filter.")}}},
        "/retention/batches/{batch_id}": {"get": {
            "summary": "One batch and its letters (serials, dates, reasons, states; no content).",
            "parameters": [BATCH_ID], "responses": {**_ok(BATCH), **ERRORS, "404": _err("No such batch.")}}},
        "/retention/batches/{batch_id}/seal": _action("Seal a batch after its year has closed (archivist)."),
        "/retention/batches/{batch_id}/propose": _action("Propose the destruction list (archivist)."),
        "/retention/batches/{batch_id}/approve": _action(
            "Approve the list (a leader other than the proposer)."),
        "/retention/batches/{batch_id}/exclude": _action(
            "Take one letter off the list, with a reason (leader); it is kept.",
            {"422": _err("Serial or reason missing.")},
            {"content": {"application/json": {"schema": {"type": "object", "required": ["serial", "reason"],
                                                         "properties": {"serial": {"type": "string"},
                                                                        "reason": {"type": "string"}}}}}}),
        "/retention/batches/{batch_id}/runs": {"post": {
            "summary": "Start the destruction of one approved, due batch (leader): a background job, not this "
                       "request. Its progress and then its certificate show under 'run' in the batch.",
            "parameters": [BATCH_ID],
            "responses": {**_ok({"type": "object", "properties": {
                "batch": {"type": "integer"}, "run": RUN}}, "Started (or already queued)", "202"),
                **ERRORS, "404": _err("No such batch."), "409": _err("Not approved, not due, or all held.")}}},
        "/retention/holds": {
            "get": {"summary": "Holds (add ?active=1 for those not lifted).",
                    "responses": {**_ok({"type": "object", "properties": {"items": {"type": "array", "items": HOLD}}}),
                                  **ERRORS}},
            "post": {"summary": "Hold a letter (serial) or a batch (batch id), with a reason (leader).",
                     "requestBody": {"content": {"application/json": {"schema": {
                         "type": "object", "required": ["reason"],
                         "properties": {"serial": {"type": "string"}, "batch": {"type": "integer"},
                                        "reason": {"type": "string", "maxLength": 500}}}}}},
                     "responses": {**_ok(HOLD, "Placed", "201"), **ERRORS, "404": _err("No such letter or batch."),
                                   "409": _err("The letter was already destroyed."),
                                   "422": _err("Reason missing, or neither serial nor batch.")}}},
        "/retention/holds/{hold_id}/lift": {"post": {
            "summary": "Lift a hold, with a reason (leader).",
            "parameters": [{"name": "hold_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "requestBody": REASON_BODY,
            "responses": {**_ok(HOLD), **ERRORS, "404": _err("No such hold."), "409": _err("Already lifted.")}}},
        "/retention/certificates": {"get": {
            "summary": "Destruction certificates issued.",
            "responses": {**_ok({"type": "object", "properties": {"items": {"type": "array", "items": {
                "type": "object", "properties": {"number": {"type": "string"}, "batch": {"type": "integer"},
                                                 "letters": {"type": "integer"}, "residue_clean": {"type": "boolean"},
                                                 "issued_at": {"type": "string"}, "sha256": {"type": "string"}}}}}}),
                          **ERRORS}}},
        "/retention/certificates/{number}": {"get": {
            "summary": "One certificate as issued (JSON; verify with `xinfang retention verify`).",
            "parameters": [{"name": "number", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {**_ok({"type": "object"}), **ERRORS, "404": _err("No such certificate.")}}},
    }

"""OpenAPI paths of the reference data (merged into app/api/openapi.py's document)."""
from __future__ import annotations


def _err(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


ERRORS = {"401": _err("Missing, unknown, expired or revoked token."), "403": _err("The token's user may not do this.")}
INVALID = {"422": _err("Invalid input; `fields` names each bad field (or the bad line of a calendar).")}
REGION = {"type": "object", "properties": {
    "code": {"type": "string"}, "name": {"type": "string", "description": "Traditional Chinese"},
    "name_hans": {"type": "string"}, "full_name": {"type": "string"}, "full_name_hans": {"type": "string"},
    "level": {"type": "integer", "description": "1 province, 2 prefecture, 3 county"},
    "parent": {"type": ["string", "null"]}, "retired": {"type": "boolean"},
    "successor": {"type": ["string", "null"]}, "current": {"type": "string"},
    "outside_jurisdiction": {"type": "boolean"}}}
CATEGORY = {"type": "object", "properties": {
    "code": {"type": "string"}, "name": {"type": "string"}, "name_hans": {"type": "string"},
    "name_en": {"type": "string"}, "parent": {"type": ["string", "null"]}, "active": {"type": "boolean"},
    "records": {"type": "integer"}}}
CATEGORY_BODY = {"type": "object", "properties": {
    "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]{1,31}$"}, "name": {"type": "string", "maxLength": 200},
    "name_hans": {"type": "string", "maxLength": 200}, "name_en": {"type": "string", "maxLength": 200},
    "parent": {"type": ["string", "null"]}, "active": {"type": "boolean"}}}
UNIT = {"type": "object", "properties": {
    "code": {"type": "string"}, "name": {"type": "string"}, "external": {"type": "boolean"},
    "intake": {"type": "boolean"}, "active": {"type": "boolean"},
    "regions": {"type": "array", "items": {"type": "string"}},
    "in_use": {"type": "object", "properties": {"users": {"type": "integer"}, "records": {"type": "integer"}}}}}
UNIT_BODY = {"type": "object", "properties": {
    "code": {"type": "string"}, "name": {"type": "string", "maxLength": 200}, "external": {"type": "boolean"},
    "regions": {"type": "array", "items": {"type": "string"}}, "active": {"type": "boolean"}}}
LETTERHEAD = {"type": "object", "properties": {k: {"type": "string"} for k in (
    "bureau_name", "issuing_office", "superior_body", "number_pattern", "seal_line", "signature_block",
    "example")}}
CODE_PARAM = {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}


def _ok(schema: dict, code: str = "200", description: str = "OK") -> dict:
    return {code: {"description": description, "content": {"application/json": {"schema": schema}}}}


def _body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _list(key: str, item: dict) -> dict:
    return {"type": "object", "properties": {key: {"type": "array", "items": item}}}


def reference_paths() -> dict:
    return {
        "/regions": {"get": {
            "operationId": "findRegions", "summary": "Regions by code prefix or name (either script); or the "
            "home region the first six digits of an ID number suggest",
            "parameters": [{"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 40}},
                           {"name": "id_number", "in": "query", "schema": {"type": "string"}}],
            "responses": {**_ok({"type": "object", "properties": {
                "regions": {"type": "array", "items": REGION}, "suggested": {"oneOf": [REGION, {"type": "null"}]}}}),
                **ERRORS, **INVALID}}},
        "/regions/{code}": {"get": {
            "operationId": "getRegion", "summary": "One region of the national list (current or retired)",
            "parameters": [CODE_PARAM],
            "responses": {**_ok(REGION), **ERRORS, "404": _err("Not a code of the national list.")}}},
        "/jurisdiction": {
            "get": {"operationId": "getJurisdiction", "summary": "The bureau's area",
                    "responses": {**_ok({"type": "object", "properties": {
                        "jurisdiction": {"oneOf": [REGION, {"type": "null"}]}}}), **ERRORS}},
            "put": {"operationId": "setJurisdiction", "summary": "Change the bureau's area (token scope `reference`)",
                    "requestBody": _body({"type": "object", "required": ["code"],
                                          "properties": {"code": {"type": "string"}}}),
                    "responses": {**_ok({"type": "object", "properties": {"jurisdiction": REGION}}),
                                  **ERRORS, **INVALID}}},
        "/categories": {
            "get": {"operationId": "listCategories", "summary": "The bureau's categories (active=1: in use only)",
                    "parameters": [{"name": "active", "in": "query", "schema": {"type": "string"}}],
                    "responses": {**_ok(_list("categories", CATEGORY)), **ERRORS}},
            "post": {"operationId": "addCategory", "summary": "Add a category (token scope `reference`)",
                     "requestBody": _body(CATEGORY_BODY),
                     "responses": {**_ok(CATEGORY, "201", "Added"), **ERRORS, **INVALID}}},
        "/categories/{code}": {
            "patch": {"operationId": "changeCategory", "summary": "Rename, move, deactivate or reactivate",
                      "parameters": [CODE_PARAM], "requestBody": _body(CATEGORY_BODY),
                      "responses": {**_ok(CATEGORY), **ERRORS, **INVALID, "404": _err("No such category.")}},
            "delete": {"operationId": "removeCategory", "summary": "Delete a category no record carries",
                       "parameters": [CODE_PARAM],
                       "responses": {"204": {"description": "Removed"}, **ERRORS, "404": _err("No such category."),
                                     "409": _err("In use: deactivate it instead.")}}},
        "/units": {
            "get": {"operationId": "listUnits", "summary": "Internal offices and external units",
                    "responses": {**_ok(_list("units", UNIT)), **ERRORS}},
            "post": {"operationId": "addUnit", "summary": "Add an office or external unit (token scope `reference`)",
                     "requestBody": _body(UNIT_BODY),
                     "responses": {**_ok(UNIT, "201", "Added"), **ERRORS, **INVALID}}},
        "/units/{code}": {
            "patch": {"operationId": "changeUnit", "summary": "Rename, set regions, deactivate or reactivate",
                      "parameters": [CODE_PARAM], "requestBody": _body(UNIT_BODY),
                      "responses": {**_ok(UNIT), **ERRORS, **INVALID, "404": _err("No such office or unit.")}},
            "delete": {"operationId": "removeUnit", "summary": "Delete an office or unit nothing refers to",
                       "parameters": [CODE_PARAM],
                       "responses": {"204": {"description": "Removed"}, **ERRORS, "404": _err("No such office or unit."),
                                     "409": _err("In use: deactivate it instead.")}}},
        "/calendar/{year}": {"get": {
            "operationId": "getCalendar", "summary": "A year's holidays and make-up working days",
            "parameters": [{"name": "year", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {**_ok({"type": "object", "properties": {
                "year": {"type": "integer"}, "provisional": {"type": "boolean"},
                "days": {"type": "array", "items": {"type": "object", "properties": {
                    "day": {"type": "string", "format": "date"}, "kind": {"type": "string",
                                                                        "enum": ["holiday", "workday"]},
                    "name": {"type": "string"}}}}}}), **ERRORS, **INVALID}}},
        "/calendar": {"post": {
            "operationId": "importCalendar", "summary": "Import the State Council's notice: one 'YYYY-MM-DD "
            "holiday|workday [name]' per line; replaces each year named; all or nothing (token scope `reference`)",
            "requestBody": _body({"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}),
            "responses": {**_ok({"type": "object", "properties": {"years": {"type": "array",
                                                                             "items": {"type": "integer"}}}},
                                "201", "Imported"), **ERRORS, **INVALID}}},
        "/letterhead": {
            "get": {"operationId": "getLetterhead", "summary": "The letterhead in force, with an example number",
                    "responses": {**_ok(LETTERHEAD), **ERRORS}},
            "put": {"operationId": "updateLetterhead", "summary": "Change letterhead fields (token scope `reference`)",
                    "requestBody": _body(LETTERHEAD),
                    "responses": {**_ok(LETTERHEAD), **ERRORS, **INVALID}}},
    }

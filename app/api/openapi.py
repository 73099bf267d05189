"""The OpenAPI 3.1 document of /api/v1, kept next to the views it describes."""
from __future__ import annotations

from records.catalog import CATEGORIES, CHANNELS

ERROR = {"$ref": "#/components/schemas/Error"}


def _err(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


COMMON_ERRORS = {"401": _err("Missing, unknown, expired or revoked token."),
                 "403": _err("The token's user may not do this.")}


def openapi_document() -> dict:
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
            "category": {"type": "string", "enum": list(CATEGORIES)},
            "subject": {"type": "string", "minLength": 1, "maxLength": 200},
            "body": {"type": "string", "minLength": 1, "maxLength": 20000},
            "notes": {"type": "string", "maxLength": 5000},
            "people_count": {"type": "integer", "minimum": 1, "maximum": 10000},
            "petitioner": petitioner,
            "first_responder": {"type": "string", "description": "User name of the first responder (首問責任人)."},
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
    serial_param = {"name": "serial", "in": "path", "required": True,
                    "schema": {"type": "string", "pattern": "^XF-[0-9]{4}-[0-9]{6}$"}}
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
                "Error": {"type": "object", "required": ["error"],
                          "properties": {"error": {"type": "string"},
                                         "fields": {"type": "object", "additionalProperties": {"type": "string"}}}},
                "NewRecord": new_record,
                "Petitioner": petitioner,
                "LedgerLine": ledger_line,
                "Record": {"type": "object", "properties": {
                    **ledger_line["properties"],
                    "registered_by": {"type": "string"}, "registered_at": {"type": "string"},
                    "doc_version": {"type": "integer"},
                    "content": {"type": ["object", "null"]}, "petitioner": {"type": ["object", "null"]},
                    "attachments": {"type": "array", "items": {"type": "object"}},
                }},
            },
        },
        "paths": {
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
        },
    }

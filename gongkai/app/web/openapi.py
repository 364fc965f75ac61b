"""The JSON API's OpenAPI 3.1 description, served at /api/openapi.json."""

from __future__ import annotations

from typing import Any

from gongkai.app.web.queries import DEFAULT_LIMIT, KINDS, MAX_LIMIT, MAX_QUERY_CHARS


def _param(name: str, description: str, schema: dict[str, Any], where: str = "query") -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "description": description, "schema": schema}


_STR = {"type": "string", "maxLength": 200}
_DATE = {"type": "string", "format": "date"}
_ERROR = {"description": "a bad parameter, named in `error`",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_NOT_FOUND = {"description": "no such report or site",
              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def openapi_schema(version: str) -> dict[str, Any]:
    search_params = [
        _param("q", "Terms separated by spaces, all required; each is found anywhere in the title or body "
                    "(no word segmentation: 朱溪镇, 乡村振兴, 2023年, 6.5% and one character all work). Full-width "
                    "and half-width forms and letter case are the same.",
               {"type": "string", "maxLength": MAX_QUERY_CHARS}),
        _param("city", "prefecture (地级市) of the report's site", _STR),
        _param("county", "county of the report's site", _STR),
        _param("town", "town of the report's site (its publisher where the site names no town)", _STR),
        _param("year", "period_year: the year the report covers (not its publication year)",
               {"type": "integer", "minimum": 1900, "maximum": 2999}),
        _param("kind", "what the report contains", {"type": "string", "enum": list(KINDS)}),
        _param("publisher", "发布机构, exactly", _STR),
        _param("site", "configured site name", _STR),
        _param("from", "published_date on or after", _DATE),
        _param("to", "published_date on or before", _DATE),
        _param("include_withdrawn", "1 to include reports withdrawn from their site (left out by default)",
               {"type": "string", "enum": ["0", "1"]}),
        _param("limit", f"page size (default {DEFAULT_LIMIT})",
               {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
        _param("cursor", "`next` of the previous page, unchanged", {"type": "string", "maxLength": 200}),
    ]
    return {
        "openapi": "3.1.0",
        "info": {"title": "gongkai readers' API", "version": version,
                 "description": "Read-only access to the reports gongkai collected. Results are ranked: reports "
                                "whose title holds more of the terms first, then the newest published, then the "
                                "highest id. `next` is a keyset cursor: following it walks every match exactly "
                                "once, even while new reports are stored."},
        "paths": {
            "/api/reports": {"get": {
                "summary": "Search reports", "operationId": "searchReports", "parameters": search_params,
                "responses": {"200": {"description": "one page of matches",
                                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Page"}}}},
                              "400": _ERROR}}},
            "/api/reports/{id}": {"get": {
                "summary": "A report with every URL it was found at and its earlier versions",
                "operationId": "getReport",
                "parameters": [_param("id", "report id", {"type": "integer"}, "path")],
                "responses": {"200": {"description": "the report",
                                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Report"}}}},
                              "400": _ERROR, "404": _NOT_FOUND}}},
            "/api/sites": {"get": {
                "summary": "Every site with its report counts and last crawl", "operationId": "listSites",
                "responses": {"200": {"description": "the sites", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"items": {"type": "array",
                                                               "items": {"$ref": "#/components/schemas/Site"}}}}}}}}}},
            "/api/sites/{name}": {"get": {
                "summary": "A site: region, listings, counts per year and kind, last crawls", "operationId": "getSite",
                "parameters": [_param("name", "site name", {"type": "string"}, "path")],
                "responses": {"200": {"description": "the site", "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/Site"}}}}, "404": _NOT_FOUND}}},
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error", "status"],
                      "properties": {"error": {"type": "string"}, "status": {"type": "integer"}}},
            "Hit": {"type": "object", "required": ["id", "url", "title", "site", "publisher", "published_date", "snippet"],
                    "properties": {
                        "id": {"type": "integer"}, "url": {"type": "string"}, "title": {"type": "string"},
                        "site": {"type": "string"}, "publisher": {"type": ["string", "null"]},
                        "published_date": {"type": ["string", "null"], "format": "date"},
                        "period_year": {"type": ["integer", "null"]},
                        "kinds": {"type": "array", "items": {"type": "string", "enum": list(KINDS)}},
                        "city": {"type": ["string", "null"]}, "county": {"type": ["string", "null"]},
                        "town": {"type": ["string", "null"]},
                        "withdrawn_at": {"type": ["string", "null"], "format": "date-time"},
                        "score": {"type": "integer", "description": "how many terms the title holds"},
                        "snippet": {"type": "string", "description": "about 160 characters of the body around the "
                                                                     "first match, one line"},
                        "highlights": {"type": "array", "description": "[start, end) of each match in snippet",
                                       "items": {"type": "array", "items": {"type": "integer"}}},
                        "links": {"type": "object"}}},
            "Page": {"type": "object", "required": ["items", "next"],
                     "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
                                    "next": {"type": ["string", "null"]}}},
            "Report": {"type": "object", "description": "every column of public_reports, plus urls, versions, cite",
                       "properties": {
                           "id": {"type": "integer"}, "seq": {"type": "integer"}, "url": {"type": "string"},
                           "site": {"type": "string"}, "title": {"type": "string"},
                           "index_no": {"type": ["string", "null"]}, "publisher": {"type": ["string", "null"]},
                           "doc_no": {"type": ["string", "null"]},
                           "written_date": {"type": ["string", "null"], "format": "date"},
                           "published_date": {"type": ["string", "null"], "format": "date"},
                           "category": {"type": ["string", "null"]}, "body": {"type": "string"},
                           "attachments": {"type": "array", "items": {"type": "object", "properties": {
                               "name": {"type": "string"}, "url": {"type": "string"}}}},
                           "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                           "extraction": {"type": ["string", "null"], "description": "what could not be read"},
                           "body_source": {"type": ["string", "null"], "enum": ["page", "attachment", "ocr", None]},
                           "cover_note": {"type": ["string", "null"],
                                          "description": "a pointer page's own text when the body is its file's"},
                           "attachment_text": {"type": ["string", "null"],
                                               "description": "the text of the files beside a page's own body"},
                           "files": {"type": "array", "description": "a record per attachment", "items": {
                               "type": "object", "properties": {
                                   "url": {"type": "string"}, "name": {"type": "string"},
                                   "filename": {"type": ["string", "null"]}, "size": {"type": "integer"},
                                   "sha256": {"type": "string"}, "kind": {"type": "string"},
                                   "staged_page_id": {"type": "integer"}, "chars": {"type": "integer"},
                                   "ocr": {"type": "boolean"}, "confidence": {"type": ["number", "null"]},
                                   "used": {"type": ["string", "null"], "enum": ["body", "beside", None]},
                                   "note": {"type": "string"}}}},
                           "version": {"type": "integer"},
                           "withdrawn_at": {"type": ["string", "null"], "format": "date-time"},
                           "urls": {"type": "array", "items": {"type": "object", "properties": {
                               "url": {"type": "string"}, "relation": {"type": "string",
                                                                        "enum": ["primary", "column", "repost"]},
                               "first_seen_at": {"type": "string", "format": "date-time"}}}},
                           "versions": {"type": "array", "description": "earlier versions, oldest first",
                                        "items": {"type": "object", "properties": {
                                            "version": {"type": "integer"}, "title": {"type": "string"},
                                            "body": {"type": "string"}, "fields": {"type": "object"},
                                            "valid_from": {"type": "string", "format": "date-time"},
                                            "valid_to": {"type": "string", "format": "date-time"}}}},
                           "cite": {"type": "string", "description": "GB/T 7714 reference"}}},
            "Site": {"type": "object", "properties": {
                "name": {"type": "string"}, "province": {"type": ["string", "null"]},
                "city": {"type": ["string", "null"]}, "county": {"type": ["string", "null"]},
                "town": {"type": ["string", "null"]}, "platform": {"type": ["string", "null"]},
                "listings": {"type": "array", "items": {"type": "string"}}, "reports": {"type": "integer"},
                "withdrawn": {"type": "integer"}}},
        }},
    }

"""The OpenAPI 3.1 description of ``/v1``, written by hand (served at ``/v1/openapi.json``).

Hand-written rather than generated: the API is small, Starlette generates nothing itself, and the
report schema (``preflight.report/1``) is the project's own contract, described once in the README.
``tests/serve/test_serve_api.py`` checks that every route of the app is described here and back.
"""

from __future__ import annotations

from typing import Any

from ..fix.options import REFRAME_MODES

__all__ = ["openapi_document"]

_ERROR = {"description": "refused: `error.code` is a finding code (see the README's table)",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}  # fmt: skip
_JOB = {"description": "accepted: poll `status_url` (asked with `Prefer: respond-async` or `wait=0`, or the "
                       "work outlasted `wait`)",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}}}  # fmt: skip


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}  # fmt: skip


_PROFILE = [
    _query("model", "a shipped model (kling-v2.6, kling-v3, wan-2.2-animate...); default: the server's"),
    _query("provider", "a shipped provider (kling, fal, kie, novita, replicate, runway)"),
    _query("profile", "a shipped profile name or MODEL@PROVIDER (not with model/provider)"),
    _query("orientation", "character_orientation: image caps clips at 10 s, video at 30 s",
           {"type": "string", "enum": ["image", "video"]}),
    _query("wait", "seconds to wait for the result before answering 202 (default 60, at most 600; 0 = at once)",
           {"type": "number", "minimum": 0, "maximum": 600}),
]
_FIX = [
    _query("start", "keep the clip from this second (also a form field)", {"type": "number", "minimum": 0}),
    _query("end", "keep the clip up to this second (also a form field)", {"type": "number", "minimum": 0}),
    _query("aspect", "into the aspect range by pad or crop", {"type": "string", "enum": ["pad", "crop"]}),
    _query("fill", "what padding shows", {"type": "string", "enum": ["blur", "solid"]}),
    _query("window", "which part of a long clip", {"type": "string", "enum": ["best", "start"]}),
    _query("reframe", "crop the clip to one fixed window around one person, or one that follows them (follow: "
           "the provider sees camera motion); needs content",
           {"type": "string", "enum": ["none", *REFRAME_MODES]}),
    _query("person", "whom reframe frames", {"type": "string", "enum": ["largest", "left", "right"]}),
    _query("stabilize", "take hand-held shake out of a clip the check finds shaky (keeps pans; a small crop-in)",
           {"type": "boolean"}),
]
_SOURCE = [_query("source", "an earlier job of this server whose uploaded files stand in for those this request does "
                            "not send (also a form field): re-check under other settings without a new upload")]
_CONTENT = [
    _query("content", "run the content gates (pose, motion, quality); false = limits only", {"type": "boolean"}),
    _query("strict", "warnings fail too", {"type": "boolean"}),
]
_UPLOAD = {
    "required": True,
    "content": {"multipart/form-data": {"schema": {"type": "object", "properties": {
        "image": {"type": "string", "format": "binary", "description": "the subject image"},
        "video": {"type": "string", "format": "binary", "description": "the motion clip"},
    }}}},
}  # fmt: skip
_UPLOAD_ERRORS = {
    "400": _ERROR | {"description": "upload.empty, upload.aborted, upload.invalid, usage.invalid, profile.unknown"},
    "413": _ERROR | {"description": "upload.too_large: over twice the largest cap of any contract for its role, "
                                    "whatever the provider (refused while streaming)"},
    "415": _ERROR | {"description": "format.unrecognized, video.missing_stream, usage.invalid (role), upload.invalid"},
}
_PREFER = {"name": "Prefer", "in": "header", "required": False, "schema": {"type": "string"},
           "description": "`respond-async`: answer 202 with the job at once"}  # fmt: skip
_JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{16}$"}}


def _json(description: str, ref: str | None = None) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{ref}"} if ref else {"type": "object"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_document(version: str) -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/v1/health": {"get": {"summary": "Is the server up", "responses": {"200": _json("status, version")}}},
        "/v1/openapi.json": {"get": {"summary": "This document", "responses": {"200": _json("OpenAPI 3.1")}}},
        "/v1/config": {"get": {"summary": "Defaults, models, providers (whether each key is set; never the key)",
                               "responses": {"200": _json("settings")}}},
        "/v1/session": {"post": {
            "summary": "Trade the server token for the page's session cookie (HttpOnly, SameSite=Strict)",
            "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
                "token": {"type": "string"}}}}}},
            "responses": {"200": _json("ok"), "401": _ERROR}}},
        "/v1/check": {"post": {
            "summary": "Check an image and/or a clip (and the pair)",
            "parameters": [*_PROFILE, *_CONTENT, *_SOURCE, _PREFER], "requestBody": _UPLOAD,
            "responses": {"200": _json("the report", "Report"), "202": _JOB, **_UPLOAD_ERRORS}}},
        "/v1/fix": {"post": {
            "summary": "Fix an image or a clip; one input answers with the fixed file itself "
                       "(`Accept: application/json` for the job JSON)",
            "parameters": [*_PROFILE, *_FIX, *_CONTENT, *_SOURCE, _PREFER], "requestBody": _UPLOAD,
            "responses": {"200": {"description": "the fixed file (or the job JSON)", "content": {
                "video/mp4": {"schema": {"type": "string", "format": "binary"}},
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
                "202": _JOB, "422": _ERROR | {"description": "nothing could be fixed; `report` says why"},
                **_UPLOAD_ERRORS}}},
        "/v1/prepare": {"post": {
            "summary": "Check and fix the image and the clip, check the pair, write the bundle submit reads",
            "parameters": [*_PROFILE, *_FIX, *_SOURCE, _PREFER], "requestBody": _UPLOAD,
            "responses": {"200": _json("the finished job", "Job"), "202": _JOB, **_UPLOAD_ERRORS}}},
        "/v1/preview": {"post": {
            "summary": "A clip the browser plays (H.264 in MP4, SDR, at most 640 px) of a job's uploaded clip or "
                       "of one of its outputs: the job's `files` then hold `preview.mp4` (the clip itself when it "
                       "plays already)",
            "parameters": [_query("source", "the job holding the clip"),
                           _query("file", "one of that job's files (video.mp4); default: its uploaded clip"),
                           _PREFER, _PROFILE[-1]],
            "responses": {"200": _json("the finished job", "Job"), "202": _JOB, "404": _ERROR}}},
        "/v1/submit": {"post": {
            "summary": "Dry run (cost line + the exact requests) or submit a prepared pair (`confirm: true`)",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/SubmitRequest"}}}},
            "responses": {"200": _json("dry run, or the finished job"), "202": _JOB, "400": _ERROR,
                          "404": _ERROR, "409": _ERROR | {"description": "bundle.invalid: not a passing prepare"},
                          "422": _ERROR}}},
        "/v1/jobs": {"get": {"summary": "This server's jobs, newest first", "responses": {"200": _json("jobs")}}},
        "/v1/jobs/{job_id}": {
            "get": {"summary": "A job's state, progress and result", "parameters": [_JOB_ID],
                    "responses": {"200": _json("the job", "Job"), "404": _ERROR}},
            "delete": {"summary": "Forget a job, stop its worker if it is running and delete its files",
                       "parameters": [_JOB_ID],
                       "responses": {"200": _json("deleted"), "404": _ERROR}}},
        "/v1/jobs/{job_id}/files/{name}": {"get": {
            "summary": "A file the job made (a name from its `files` list: sheet.png, video.mp4...)",
            "parameters": [_JOB_ID, {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                           _query("inline", "show rather than download", {"type": "boolean"})],
            "responses": {"200": {"description": "the file"}, "404": _ERROR}}},
        "/v1/ledger": {"get": {"summary": "The submit ledger's last 50 jobs (what `preflight jobs list` reads)",
                               "responses": {"200": _json("jobs")}}},
        "/v1/ledger/{job_id}/refresh": {"post": {
            "summary": "Ask the provider once how a ledger job is doing",
            "parameters": [{"name": "job_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {"200": _json("the ledger row"), "404": _ERROR}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "preflight serve", "version": version,
                 "description": "Check, fix, prepare and submit a subject image and a motion clip for AI motion "
                                "transfer. Long operations are jobs; see `Prefer: respond-async` and `wait`."},
        "servers": [{"url": "/"}],
        "security": [{}, {"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "required when the server is bound beyond loopback"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                                     "text": {"type": "string", "description": "the message in the "
                                                              "page's words (no flags, no server paths)"}}}}},
                "Accepted": {"type": "object", "properties": {"job": {"type": "string"},
                             "status_url": {"type": "string"}, "state": {"type": "string"}}},
                "Job": {"type": "object", "properties": {
                    "id": {"type": "string"}, "kind": {"enum": ["check", "fix", "prepare", "submit", "preview"]},
                    "settings": {"type": "object", "description": "profile, model, provider, orientation"},
                    "state": {"enum": ["queued", "running", "done", "failed"]},
                    "progress": {"type": ["object", "null"], "properties": {
                        "stage": {"type": "string"}, "done": {"type": "number"}, "total": {"type": "number"}}},
                    "result": {"type": "object"}, "error": {"$ref": "#/components/schemas/Error"},
                    "files": {"type": "array", "items": {"type": "object", "properties": {
                        "name": {"type": "string"}, "url": {"type": "string"}}}}}},
                "Report": {"type": "object", "description": "schema preflight.report/1 (see the README)",
                           "properties": {"schema": {"const": "preflight.report/1"}, "items": {"type": "array"},
                                          "summary": {"type": "object"}}},
                "SubmitRequest": {"type": "object", "required": ["bundle", "provider"], "properties": {
                    "bundle": {"type": "string", "description": "a finished prepare job's id"},
                    "provider": {"type": "string"}, "model": {"type": "string"}, "mode": {"type": "string"},
                    "prompt": {"type": "string"}, "negative_prompt": {"type": "string"},
                    "keep_sound": {"type": "boolean"}, "inputs": {"type": "object"},
                    "image_url": {"type": "string"}, "video_url": {"type": "string"},
                    "orientation": {"enum": ["image", "video"]}, "dry_run": {"type": "boolean"},
                    "confirm": {"type": "boolean", "description": "required to spend credits"},
                    "again": {"type": "boolean"}, "force": {"type": "boolean"}}},
            },
        },
    }  # fmt: skip

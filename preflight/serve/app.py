"""The Starlette application: the page, its two static files, and the ``/v1`` API.

Long operations (check with content, fix, prepare, submit) are jobs (:mod:`.jobs`). A request that
asks for it (``Prefer: respond-async``, or ``?wait=0``) gets ``202 {"job", "status_url"}`` at once;
any other waits up to ``?wait=`` seconds (default :data:`~.config.SYNC_WAIT`, at most
:data:`~.config.MAX_WAIT`) and then answers with the result itself: ``/v1/check`` the
``preflight.report/1`` JSON, ``/v1/fix`` of one file the fixed file's bytes (unless ``Accept:
application/json``), so the issue's curl lines work as written. A job still running after the wait
is answered 202 like the asynchronous form.

Request parameters come from the query string or from form fields of the upload (``-F start=4.5``);
``model``/``provider``/``profile`` name shipped contracts only (a request never names a file).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import math
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .._version import __version__
from ..errors import PreflightError, UsageError
from .config import MAX_WAIT, SYNC_WAIT, ServeConfig, ServeError, upload_cap
from .jobs import Job, JobStore
from .security import SESSION_COOKIE, Guard, session_value
from .uploads import UploadError, receive_form

__all__ = ["create_app"]

log = logging.getLogger("preflight")

Files = list[tuple[str, str, str]]
"""(field, server path, label) per uploaded file."""
STATIC = Path(__file__).with_name("static")
STATIC_FILES = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".json": "application/json", ".mp4": "video/mp4",
               ".mov": "video/quicktime", ".webp": "image/webp"}  # fmt: skip
JSON_BODY_MAX = 65536
SWEEP_EVERY = 60.0
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _status(code: str) -> int:
    if code in ("job.not_found", "file.not_found"):
        return 404
    if code.startswith(("usage.", "profile.", "config.")):
        return 400
    if code == "internal.error":
        return 500
    return 422


def _error(exc: PreflightError, **extra: Any) -> JSONResponse:
    """``{"error": {"code", "message", "text"}}``: ``text`` is what the page shows (:mod:`.wording`)."""
    from .wording import error_text

    status = getattr(exc, "status", None) or _status(exc.code)
    error = {"code": exc.code, "message": exc.message, "text": error_text(exc.code, exc.message)}
    return JSONResponse({"error": error, **extra}, status)


class _Params:
    """The request's parameters: query string, then the upload's form fields (which win)."""

    def __init__(self, query: Mapping[str, str], form: Mapping[str, str] | None = None) -> None:
        self.values = {**query, **(form or {})}

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        return value.strip() if value is not None and value.strip() else default

    def flag(self, name: str, default: bool) -> bool:
        value = self.text(name)
        if value is None:
            return default
        if value.lower() in TRUE:
            return True
        if value.lower() in FALSE:
            return False
        raise UsageError(f"{name} must be true or false, not {value[:40]!r}")

    def seconds(self, name: str, *, upper: float | None = None) -> float | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or number < 0 or (upper is not None and number > upper):
            bound = f" and at most {upper:g}" if upper is not None else ""
            raise UsageError(f"{name} must be a number of seconds, 0 or more{bound}, not {value[:40]!r}")
        return number

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(name, default)
        if value not in choices:
            raise UsageError(f"{name} must be one of {', '.join(choices)}, not {str(value)[:40]!r}")
        return value  # type: ignore[return-value]


class Server:
    """The routes' shared state: settings, the job store, the CSRF token."""

    def __init__(self, config: ServeConfig, executor: Any) -> None:
        self.config = config
        self.executor = executor
        self.store = JobStore(executor, max_age=config.max_age, workdir=config.workdir)
        self.csrf = secrets.token_urlsafe(32)
        self.page = (STATIC / "index.html").read_text(encoding="utf-8")

    # profile --------------------------------------------------------------------------------------
    def profile(self, params: _Params) -> tuple[str | None, Any]:
        from ..api import resolve_profile
        from ..profiles import available_profiles, profile_ref, shipped_models, shipped_providers

        model, provider, profile = params.text("model"), params.text("provider"), params.text("profile")
        for kind, value, known in (("model", model, shipped_models()), ("provider", provider, shipped_providers()),
                                   ("profile", profile, available_profiles())):  # fmt: skip
            if value is not None and value not in known and not (kind == "profile" and _served(value)):
                raise UsageError(f"unknown {kind} {value[:60]!r}; known: {', '.join(known)}", "profile.unknown")
        ref = profile_ref(profile, model, provider) if (model or provider or profile) else self.config.profile
        return ref, resolve_profile(ref)

    def orientation(self, params: _Params) -> str:
        return params.choice("orientation", ("image", "video"), self.config.orientation)

    # uploads ----------------------------------------------------------------------------------------
    async def receive(self, request: Request, kind: str, need: tuple[str, ...]) -> tuple[Job, Files, _Params, Any]:
        """A new job with the request's files in its folder, its parameters and profile.

        ``source=JOB`` (query or form field) takes the files this request does not send from that earlier
        job: the page re-checks under another model, provider or orientation, fixes and prepares what it
        uploaded once. The job settles its settings (profile, orientation) for the page to show."""
        query = _Params(request.query_params)
        ref, profile = self.profile(query)  # the caps must be known before the first byte is written
        job = self.store.new(kind)
        try:
            caps = {role: upload_cap(profile, role) for role in ("image", "video")}
            uploads, fields = await _received(request, job.folder, caps)
            params = _Params(request.query_params, fields)
            job.uploads = [(f, str(uploads[f].path), uploads[f].label) for f in ("image", "video") if f in uploads]
            source = params.text("source")
            if source is not None:
                self.store.adopt(job, self.store.get(source), tuple(r for r in ("image", "video") if r not in uploads))
            present = {f for f, _, _ in job.uploads}
            missing = [f for f in need if f not in present]
            if missing or not present:
                what = " and ".join(f"`{f}`" for f in (missing or ("image", "video")))
                raise UploadError(f"send {what} as a file field (curl -F {need[0] if need else 'video'}=@FILE), or "
                                  "name an earlier job that holds it as `source`", "upload.invalid")  # fmt: skip
            if any(k in fields for k in ("model", "provider", "profile")):
                ref, profile = self.profile(params)
            job.settings = {"profile": profile.name, "model": profile.model, "provider": profile.provider,
                            "orientation": self.orientation(params)}  # fmt: skip
        except BaseException:
            self.store.discard(job)
            raise
        files = sorted(job.uploads, key=lambda u: ("image", "video").index(u[0]))
        job.uploads = files
        job.labels = {f: label for f, _, label in files}
        return job, files, params, (ref, profile)

    async def answer(self, request: Request, job: Job, params: _Params, render: Callable[[Job], Response]) -> Response:
        wait = params.seconds("wait", upper=MAX_WAIT)
        asked_async = "respond-async" in request.headers.get("prefer", "").lower() or wait == 0
        if not asked_async and await self.store.wait(job, SYNC_WAIT if wait is None else wait):
            if job.state == "failed" and job.error:
                return JSONResponse({"error": job.error, "job": job.id}, _status(job.error["code"]),
                                    headers={"X-Preflight-Job": job.id})  # fmt: skip
            return render(job)
        return JSONResponse({"job": job.id, "status_url": f"/v1/jobs/{job.id}", "state": job.state}, 202,
                            headers={"Location": f"/v1/jobs/{job.id}", "X-Preflight-Job": job.id,
                                     "Preference-Applied": "respond-async"})  # fmt: skip


async def _received(request: Request, folder: Path, caps: dict[str, int]) -> tuple[dict[str, Any], dict[str, str]]:
    """The upload's files and fields. A request that sends no file (a re-check of a ``source`` job) may have no
    body, or plain fields as ``application/x-www-form-urlencoded`` (``curl -d source=JOB``)."""
    from urllib.parse import parse_qsl

    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not kind and request.headers.get("content-length", "0") == "0":
        return {}, {}
    if kind == "application/x-www-form-urlencoded":
        body = (await _bounded_body(request)).decode("utf-8", "replace")
        try:
            return {}, dict(parse_qsl(body, max_num_fields=32))
        except ValueError as exc:  # more fields than that
            raise UploadError(f"the form could not be read: {exc}", "upload.invalid") from exc
    return await receive_form(request, folder, caps)


def _served(profile: str) -> bool:
    """``MODEL@PROVIDER`` of shipped contracts (never a path)."""
    from ..profiles import shipped_models, shipped_providers

    model, at, provider = profile.partition("@")
    return bool(at) and model in shipped_models() and provider in shipped_providers()


def _fix_options(params: _Params) -> dict[str, Any]:
    from ..fix import FixOptions
    from ..fix.options import PERSON_CHOICES, REFRAME_MODES, STABILIZE_NEEDS_CONTENT

    options = {
        "start": params.seconds("start"),
        "end": params.seconds("end"),
        "aspect": params.choice("aspect", ("pad", "crop"), "pad"),
        "fill": params.choice("fill", ("blur", "solid"), "blur"),
        "window": params.choice("window", ("best", "start"), "best"),
        "person": params.choice("person", PERSON_CHOICES, "largest"),
        "stabilize": params.flag("stabilize", False),
    }
    reframe = params.choice("reframe", ("none", *REFRAME_MODES), "none")
    options["reframe"] = None if reframe == "none" else reframe
    FixOptions(**options)  # refuses a window whose end is not after its start
    if options["stabilize"] and not params.flag("content", True):
        raise UsageError(STABILIZE_NEEDS_CONTENT)
    return options


def _reframe_needs_content(options: dict[str, Any], content: bool) -> None:
    if options.get("reframe") and not content:
        raise UsageError("reframe frames the person the content check finds: it cannot run with content=false")


def create_app(config: ServeConfig, executor: Any = None) -> Starlette:
    """The ASGI app; ``executor`` is the pool jobs run on (default: a batch LocalExecutor of ``config.jobs``)."""
    from ..batch.executors import LocalExecutor
    from ..batch.work import BatchSettings

    config.validate()
    pool = executor if executor is not None else LocalExecutor(config.jobs)
    server = Server(config, pool)
    store = server.store

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool.warm(BatchSettings(profile=config.profile, orientation=config.orientation))

        async def sweep() -> None:
            while True:
                await asyncio.sleep(SWEEP_EVERY)
                store.sweep()

        sweeper = asyncio.create_task(sweep())
        try:
            yield
        finally:
            sweeper.cancel()
            store.close()
            if executor is None:
                pool.abort()
                pool.close()

    # ---- the page ----------------------------------------------------------------------------------
    async def index(request: Request) -> Response:
        page = server.page.replace("{{csrf}}", html.escape(server.csrf)).replace(
            "{{token_required}}", "1" if config.token else "0")  # fmt: skip
        return HTMLResponse(page)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            raise ServeError(f"no static file {name[:60]!r}", "file.not_found", 404)
        return FileResponse(STATIC / name, media_type=STATIC_FILES[name])

    # ---- information ----------------------------------------------------------------------------
    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__, "jobs": len(store.jobs)})

    async def openapi(request: Request) -> Response:
        from .openapi import openapi_document

        return JSONResponse(openapi_document(__version__))

    async def settings(request: Request) -> Response:
        from ..fix.options import REFRAME_MODES
        from ..profiles import available_profiles, load_model, shipped_models
        from .submitting import provider_catalog

        _, profile = server.profile(_Params({}))
        catalog = await run_in_threadpool(provider_catalog, config.upload)
        return JSONResponse({
            "version": __version__,
            "defaults": {"profile": profile.name, "model": profile.model, "provider": profile.provider,
                         "orientation": config.orientation},
            "models": shipped_models(),
            "models_with_orientation": [m for m in shipped_models() if load_model(m).orientation],
            "providers": catalog,
            "profiles": available_profiles(),
            "token_required": bool(config.token),
            "sync_wait": SYNC_WAIT,
            "upload": config.upload is not None,
            "upload_limits": {role: upload_cap(profile, role) for role in ("image", "video")},
            "reframe_modes": list(REFRAME_MODES),  # the page's "frame one person" offers what fix takes
        })  # fmt: skip

    async def session(request: Request) -> Response:
        data = await _json_body(request)
        if not config.token:
            return JSONResponse({"ok": True, "token_required": False})
        given = str(data.get("token") or "")
        if not secrets.compare_digest(given.encode(), config.token.encode()):
            raise ServeError("wrong token", "serve.unauthorized", 401)
        response = JSONResponse({"ok": True, "token_required": True})
        secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
        response.set_cookie(SESSION_COOKIE, session_value(config.token), httponly=True, samesite="strict",
                            secure=secure, path="/")  # fmt: skip
        return response

    # ---- the long operations ------------------------------------------------------------------------
    async def check(request: Request) -> Response:
        from .work import run_check

        job, files, params, (ref, _) = await server.receive(request, "check", ())
        try:
            orientation = server.orientation(params)
            content, strict = params.flag("content", True), params.flag("strict", False)
        except PreflightError:
            store.discard(job)
            raise
        store.in_pool(job, run_check, files, ref, orientation, content, strict, str(job.folder))

        def render(done: Job) -> Response:
            assert done.result is not None
            return JSONResponse(done.result["report"], headers={"X-Preflight-Job": done.id})

        return await server.answer(request, job, params, render)

    async def fix(request: Request) -> Response:
        from .work import run_fix

        job, files, params, (ref, _) = await server.receive(request, "fix", ())
        try:
            orientation = server.orientation(params)
            options = _fix_options(params)
            content, strict = params.flag("content", True), params.flag("strict", False)
            _reframe_needs_content(options, content)
        except PreflightError:
            store.discard(job)
            raise
        outdir = str(job.folder / "out")
        store.in_pool(job, run_fix, files, outdir, ref, orientation, options, content, strict, str(job.folder))
        wants_json = "application/json" in request.headers.get("accept", "")
        return await server.answer(request, job, params, lambda done: _fix_answer(done, wants_json))

    async def prepare(request: Request) -> Response:
        from .work import run_prepare

        job, files, params, (ref, _) = await server.receive(request, "prepare", ("image", "video"))
        try:
            orientation = server.orientation(params)
            options = _fix_options(params)
            content = params.flag("content", True)
            _reframe_needs_content(options, content)
        except PreflightError:
            store.discard(job)
            raise
        outdir = str(job.folder / "bundle")
        store.in_pool(job, run_prepare, files, outdir, ref, orientation, options, content, str(job.folder))
        return await server.answer(request, job, params, lambda done: JSONResponse(done.public()))

    async def preview(request: Request) -> Response:
        """A clip the browser can play (H.264 in MP4, SDR, small) of a job's uploaded clip or of one of its
        outputs (``file=video.mp4``): the source itself when it plays already, else a quick re-encode."""
        from .work import run_preview

        params = _Params(request.query_params)
        source = store.get(params.text("source") or "")
        name = params.text("file")
        if name is None:
            path = next((p for f, p, _ in source.uploads if f == "video"), None)
            label = source.labels.get("video", "clip")
        else:
            path, label = source.files.get(name), name
        if path is None or not Path(path).is_file():
            raise ServeError(f"job {source.id} holds no clip {name or 'upload'!r} to preview", "file.not_found", 404)
        job = store.new("preview")
        job.labels = {"video": label}
        job.settings = dict(source.settings)
        store.in_pool(job, run_preview, path, str(job.folder))
        return await server.answer(request, job, params, lambda done: JSONResponse(done.public()))

    async def submit(request: Request) -> Response:
        from ..profiles import shipped_providers
        from .submitting import run_submit

        data = await _json_body(request)
        source = store.get(str(data.get("bundle") or ""))
        if source.bundle is None:
            raise ServeError(f"job {source.id} holds no bundle: submit takes a finished prepare job whose pair "
                             "passed", "bundle.invalid", 409)  # fmt: skip
        provider = str(data.get("provider") or "")
        if provider not in shipped_providers():
            raise UsageError(f"provider must be one of {', '.join(shipped_providers())}, not {provider[:40]!r}")
        allowed = ("provider", "model", "mode", "prompt", "negative_prompt", "keep_sound", "inputs", "orientation",
                   "image_url", "video_url", "dry_run", "confirm", "again", "force")  # fmt: skip
        unknown = sorted(set(data) - {*allowed, "bundle", "wait"})
        if unknown:
            raise UsageError(f"unknown field(s) {', '.join(unknown)[:80]}; known: {', '.join(allowed)}")
        request_data = {k: data.get(k) for k in allowed}
        if request_data["dry_run"]:
            answer = await run_in_threadpool(run_submit, source.bundle, request_data, config.ledger, config.upload)
            return JSONResponse(answer)
        job = store.new("submit")
        job.labels = dict(source.labels)
        store.in_thread(job, run_submit, source.bundle, request_data, config.ledger, config.upload)
        params = _Params({k: str(v) for k, v in request.query_params.items()})
        return await server.answer(request, job, params, lambda done: JSONResponse(done.public()))

    # ---- jobs ---------------------------------------------------------------------------------------
    async def jobs(request: Request) -> Response:
        listed = sorted(store.jobs.values(), key=lambda j: j.created, reverse=True)
        return JSONResponse({"jobs": [j.public() for j in listed]})

    async def job_status(request: Request) -> Response:
        return JSONResponse(store.get(request.path_params["job_id"]).public())

    async def job_delete(request: Request) -> Response:
        job = store.get(request.path_params["job_id"])
        store.discard(job)
        return JSONResponse({"deleted": job.id})

    async def job_file(request: Request) -> Response:
        job = store.get(request.path_params["job_id"])
        name = request.path_params["name"]
        path = job.files.get(name)
        if path is None or not Path(path).is_file():
            raise ServeError(f"job {job.id} has no file {name[:60]!r}", "file.not_found", 404)
        download = _download_names(job).get(name)
        attach = download is not None and request.query_params.get("inline") not in TRUE
        return FileResponse(path, media_type=MEDIA_TYPES.get(Path(path).suffix, "application/octet-stream"),
                            filename=download if attach else None,
                            content_disposition_type="attachment" if attach else "inline")  # fmt: skip

    # ---- the ledger ---------------------------------------------------------------------------------
    async def ledger(request: Request) -> Response:
        from .submitting import ledger_jobs

        return JSONResponse({"jobs": await run_in_threadpool(ledger_jobs, config.ledger)})

    async def ledger_refresh(request: Request) -> Response:
        from .submitting import refresh_ledger_job

        return JSONResponse(await run_in_threadpool(refresh_ledger_job, request.path_params["job_id"], config.ledger))

    async def preflight_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PreflightError)
        if isinstance(exc, UploadError) and exc.code == "upload.aborted":
            log.info("upload aborted: %s", exc.message)
        return _error(exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = "file.not_found" if exc.status_code == 404 else "usage.invalid"
        error = ServeError(f"{request.method} {request.url.path[:80]}: {exc.detail}", code, exc.status_code)
        return _error(error)

    routes = [
        Route("/", index),
        Route("/static/{name}", static),
        Route("/favicon.ico", lambda request: Response(status_code=204)),  # no icon; and no 404 in the console
        Route("/v1/health", health),
        Route("/v1/openapi.json", openapi),
        Route("/v1/config", settings),
        Route("/v1/session", session, methods=["POST"]),
        Route("/v1/check", check, methods=["POST"]),
        Route("/v1/fix", fix, methods=["POST"]),
        Route("/v1/prepare", prepare, methods=["POST"]),
        Route("/v1/preview", preview, methods=["POST"]),
        Route("/v1/submit", submit, methods=["POST"]),
        Route("/v1/jobs", jobs),
        Route("/v1/jobs/{job_id}", job_status),
        Route("/v1/jobs/{job_id}", job_delete, methods=["DELETE"]),
        Route("/v1/jobs/{job_id}/files/{name}", job_file),
        Route("/v1/ledger", ledger),
        Route("/v1/ledger/{job_id:int}/refresh", ledger_refresh, methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={PreflightError: preflight_error, HTTPException: http_error})  # fmt: skip
    app.state.server = server
    return Guard(app, config, server.csrf)  # type: ignore[return-value]


def _download_names(job: Job) -> dict[str, str]:
    outputs = (job.result or {}).get("outputs") or ()
    return {o["name"]: o["download_name"] for o in outputs}


def _fix_answer(job: Job, wants_json: bool) -> Response:
    result = job.result or {}
    outputs = result.get("outputs") or []
    if not outputs:
        report = result.get("report") or {}
        errors = (f for i in report.get("items", ()) for f in i.get("findings", ()) if f.get("severity") == "error")
        first = next(errors, None)
        reason = next((i.get("reason") for i in report.get("items", ()) if i.get("reason")), None)
        code = first["code"] if first else "fix.failed"
        return JSONResponse({"error": {"code": code, "message": reason or "nothing could be fixed"}, "job": job.id,
                             "report": report}, 422, headers={"X-Preflight-Job": job.id})  # fmt: skip
    if wants_json or len(outputs) != 1:
        return JSONResponse(job.public(), headers={"X-Preflight-Job": job.id})
    out = outputs[0]
    path = job.files[out["name"]]
    return FileResponse(path, media_type=MEDIA_TYPES.get(Path(path).suffix, "application/octet-stream"),
                        filename=out["download_name"], headers={"X-Preflight-Job": job.id,
                        "X-Preflight-Verdict": str(out.get("verdict"))})  # fmt: skip


async def _bounded_body(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > JSON_BODY_MAX:
            raise ServeError(f"the body is over {JSON_BODY_MAX} bytes", "upload.too_large", 413)
    return body


async def _json_body(request: Request) -> dict[str, Any]:
    body = await _bounded_body(request)
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise UsageError(f"the body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise UsageError("the body must be a JSON object")
    return data

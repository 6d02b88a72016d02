"""Ray Serve adapter: a FastAPI ingress deployment; each replica holds vLLM's own OpenAI serving
layer over a policy-applying engine (engine.py).

Routes: POST /v1/chat/completions, POST /v1/completions (both streaming or not), GET /v1/models,
GET /health. A request's thinking fields are taken off first (protocol.py); the rest is vLLM's
request, answered by vLLM's code, and each choice gets its `overthinking` report. Overload is
Serve's own bounded queue (`max_queued_requests`, 503 + Retry-After). A replica whose engine dies
answers 503 at once and starts a new engine in place; only when that fails does its health check
fail, and Serve replaces the replica.

`serve deploy` / RayService use `app_builder` (import path `overthink.serve.app:app_builder`)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError
from ray import serve

from overthink.serve.config import ServeConfig, ServeSettings
from overthink.serve.protocol import (
    ApiError,
    first_error,
    limit_max_tokens,
    overthinking_report,
    refuse_unsupported,
    request_policy,
    take_thinking_fields,
)

api = FastAPI(title="overthink", description="OpenAI-compatible serving with thinking control.")
logger = logging.getLogger("ray.serve")
RESTART_ATTEMPTS = 2  # failed engine restarts before the replica reports itself unhealthy


@api.exception_handler(ApiError)
async def _api_error(request: Request, err: ApiError) -> JSONResponse:
    headers = {"Retry-After": str(err.retry_after)} if err.retry_after is not None else None
    return JSONResponse(err.body(), status_code=err.status, headers=headers)


async def read_json(request: Request) -> dict:
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ApiError(400, f"the request body is not valid JSON ({err})") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return body


def replica_flags(settings: ServeSettings, model_path: str, served_name: str, gpu: bool) -> list[str]:
    """vLLM server flags of a replica's engine: the engine layer's arguments and the served name
    (vLLM's own server started with them builds the same engine: the conformance test does)."""
    from overthink.runtime.vllm_engine import engine_args, server_flags

    return server_flags(engine_args(settings.engine, model_path, gpu, settings.policy), served_name)


@serve.deployment(name="OverthinkServer")
@serve.ingress(api)
class OverthinkServer:
    async def __init__(self, settings_json: str, model_path: str, served_name: str):
        from overthink.runtime.reaper import reap_with_owner
        from overthink.runtime.vllm_engine import prepare_engine_process
        from overthink.serve.metrics import OverthinkMetrics

        self.settings = ServeSettings.model_validate_json(settings_json)
        self.served_name = served_name
        self.flags = replica_flags(self.settings, model_path, served_name, prepare_engine_process(self.settings.engine))
        self.metrics = OverthinkMetrics()
        self.healing: asyncio.Task | None = None
        self.failed_restarts = 0
        self.reaper = reap_with_owner()  # its engines' processes die with this replica, however it ends
        self.serving = await self._start_engine()

    async def _start_engine(self):
        from overthink.serve.engine import start_serving

        return await start_serving(self.flags, self.settings.policy)

    def engine(self):
        """The live engine's serving objects; while a dead engine is replaced, a 503 at once."""
        if self.healing is not None or self.serving.llm.errored:
            raise self.engine_failure(self.serving)
        return self.serving

    def engine_failure(self, serving) -> ApiError:
        """The 503 for a request whose engine died; the first starts the restart (a request of
        an engine already replaced starts none)."""
        if self.healing is None and serving is self.serving:
            self.healing = asyncio.ensure_future(self._heal())
        return ApiError(
            503,
            "the model engine died and is being restarted; retry the request",
            kind="server_error",
            retry_after=self.settings.deployment.retry_after_s,
        )

    async def _heal(self) -> None:
        logger.warning("overthink: the vLLM engine died; starting a new one in this replica")
        self.serving.shutdown()
        try:
            self.serving = await self._start_engine()
            self.failed_restarts = 0
            logger.warning("overthink: the new vLLM engine is up")
        except Exception:
            self.failed_restarts += 1
            logger.exception("overthink: restarting the vLLM engine failed (%d)", self.failed_restarts)
        finally:
            self.healing = None

    @api.get("/health")
    async def health(self) -> dict:
        self.engine()
        return {"status": "ok", "model": self.served_name}

    @api.get("/v1/models")
    async def models(self) -> dict:
        return (await self.engine().models.show_available_models()).model_dump()

    @api.post("/v1/chat/completions")
    async def chat(self, request: Request):
        from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest

        return await self._respond(request, ChatCompletionRequest, "chat")

    @api.post("/v1/completions")
    async def completions(self, request: Request):
        from vllm.entrypoints.openai.completion.protocol import CompletionRequest

        return await self._respond(request, CompletionRequest, "completion")

    async def _respond(self, raw: Request, request_model, route: str):
        from vllm.entrypoints.serve.engine.protocol import ErrorResponse
        from vllm.entrypoints.serve.exception_handling.error_response import create_error_response
        from vllm.v1.engine.exceptions import EngineDeadError

        from overthink.serve.engine import policy_xargs

        fields, body = take_thinking_fields(await read_json(raw))
        policy = request_policy(fields, self.settings.policy, self.settings.limits)
        refuse_unsupported(body, policy)
        body = policy_xargs(limit_max_tokens(body, self.settings.limits), policy)
        try:
            request = request_model.model_validate(body)
        except ValidationError as err:
            raise first_error(err) from None
        serving = self.engine()
        handler = serving.chat.create_chat_completion if route == "chat" else serving.completion.create_completion
        prefix = "chatcmpl" if route == "chat" else "cmpl"
        request_id = f"{prefix}-{raw.headers.get('X-Request-Id') or request.request_id}"
        try:
            result = await handler(request, raw)
        except EngineDeadError:
            raise self.engine_failure(serving) from None
        except Exception as err:  # answered as vLLM's own server answers its errors
            serving.llm.records.pop(request_id, None)
            error = create_error_response(err)
            if error.error.code >= 500:
                logger.exception("request %s failed", request_id)
            return JSONResponse(error.model_dump(), status_code=error.error.code)
        if isinstance(result, ErrorResponse):
            serving.llm.records.pop(request_id, None)
            return JSONResponse(result.model_dump(), status_code=result.error.code)
        n = request.n or 1
        if not isinstance(result, AsyncIterator):
            payload = result.model_dump()
            reports = self._reports(serving, request_id, route, n)
            for choice in payload["choices"]:
                choice["overthinking"] = reports.get(choice["index"])
            return JSONResponse(payload)
        return StreamingResponse(self._stream(result, serving, request_id, route, n), media_type="text/event-stream")

    def _reports(self, serving, request_id: str, route: str, n: int) -> dict[int, dict]:
        """Each choice's `overthinking` report (and its metrics), by choice index; a completion of
        several prompts numbers its choices prompt by prompt, as vLLM does."""
        llm = serving.llm
        if route == "chat":
            groups = [llm.records.pop(request_id, {})]
        else:
            groups, i = [], 0
            while f"{request_id}-{i}" in llm.records:
                groups.append(llm.records.pop(f"{request_id}-{i}"))
                i += 1
        reports = {}
        for offset, records in enumerate(groups):
            for index, record in records.items():
                report = overthinking_report(record.token_ids, record.text, record.outcome, record.policy, llm.markers)
                self.metrics.record(report)
                reports[offset * n + index] = report
        return reports

    async def _stream(self, chunks: AsyncIterator[str], serving, request_id: str, route: str, n: int):
        """vLLM's stream, with the `overthinking` report added to each choice's finishing chunk."""
        reports: dict[int, dict] | None = None
        try:
            async for chunk in chunks:
                if '"finish_reason":"' in chunk and chunk.startswith("data: {"):
                    payload = json.loads(chunk[len("data: ") :])
                    if reports is None:
                        reports = self._reports(serving, request_id, route, n)
                    for choice in payload.get("choices", []):
                        if choice.get("finish_reason") is not None:
                            choice["overthinking"] = reports.get(choice["index"])
                    chunk = f"data: {json.dumps(payload)}\n\n"
                yield chunk
        finally:
            serving.llm.records.pop(request_id, None)

    async def check_health(self) -> None:
        """Serve's health probe: a replica fails it only when it cannot restart its engine, and
        Serve then replaces the replica."""
        if self.failed_restarts >= RESTART_ATTEMPTS:
            raise RuntimeError(f"the vLLM engine could not be restarted ({self.failed_restarts} attempts)")
        if self.healing is None and self.serving.llm.errored:
            self.engine_failure(self.serving)

    def __del__(self):
        serving = getattr(self, "serving", None)
        if serving is not None:
            serving.shutdown()


def build_app(config: ServeConfig, model_path: str, served_name: str, gpus_per_replica: int):
    """The bound application: one deployment with the config's replicas, queue and resources."""
    from overthink.runtime.vllm_engine import VLLM_ENV

    deployment = config.deployment
    options = {
        "autoscaling_config": {
            "min_replicas": deployment.min_replicas,
            "initial_replicas": max(1, deployment.min_replicas),
            "max_replicas": deployment.max_replicas,
            "target_ongoing_requests": deployment.target_ongoing_requests,
        },
        "max_ongoing_requests": deployment.max_ongoing_requests,
        "max_queued_requests": deployment.max_queued_requests,
        "backpressure_config": {"status_code": 503, "retry_after_s": deployment.retry_after_s},
        "health_check_period_s": deployment.health_check_period_s,
        "graceful_shutdown_timeout_s": deployment.graceful_shutdown_timeout_s,
        "logging_config": {"enable_access_log": False},  # a log line per request costs CPU beside the engine
        "ray_actor_options": {
            "num_cpus": config.placement.cpus,
            "num_gpus": gpus_per_replica,
            "resources": dict(config.placement.resources),
            "runtime_env": {"env_vars": dict(VLLM_ENV)},
        },
    }
    settings = ServeSettings.model_validate(config.model_dump(include=set(ServeSettings.model_fields)))
    return OverthinkServer.options(**options).bind(settings.model_dump_json(), model_path, served_name)


def app_builder(args: dict):
    """For `serve deploy` and RayService: `args` are config keys (`config: FILE` loads a YAML
    first), e.g. {"config": "configs/serve/organism.yaml", "model": "models:/overthink-organism@champion"}."""
    from overthink.config import load_config
    from overthink.serve.stage import prepare, replica_gpus

    args = dict(args or {})
    file = args.pop("config", None)
    overrides = [f"{key}={json.dumps(value)}" for key, value in args.items()]
    config = load_config(ServeConfig, file, overrides)
    served = prepare(config)
    return build_app(config, served.model_path, served.name, replica_gpus(config))

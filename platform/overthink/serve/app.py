"""Ray Serve adapter: a FastAPI ingress deployment holding one PolicyEngine per replica.

Routes: POST /v1/chat/completions, POST /v1/completions (both streaming or not), GET /v1/models,
GET /health. Overload is Serve's own bounded queue (`max_queued_requests`, 503 + Retry-After);
a replica whose engine died fails its health check and Serve replaces it.

`serve deploy` / RayService use `app_builder` (import path `overthink.serve.app:app_builder`)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from ray import serve

from overthink.serve.config import ServeConfig, ServeSettings
from overthink.serve.protocol import (
    ApiError,
    ChatRequest,
    CompletionRequest,
    ThinkingStream,
    chat_chunk,
    chat_response,
    completion_chunk,
    completion_response,
    delta_of,
    new_id,
    overthinking_report,
    parse,
    plan_request,
    usage,
)

api = FastAPI(title="overthink", description="OpenAI-compatible serving with thinking control.")
logger = logging.getLogger("ray.serve")


@api.exception_handler(ApiError)
async def _api_error(request: Request, err: ApiError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status)


def engine_failure(err: Exception) -> ApiError:
    """An engine that died mid-request: the request fails now (Serve replaces the replica)."""
    return ApiError(503, f"the model engine failed ({type(err).__name__}); retry the request", None, "server_error")


async def read_json(request: Request):
    try:
        return json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ApiError(400, f"the request body is not valid JSON ({err})") from None


@serve.deployment(name="OverthinkServer")
@serve.ingress(api)
class OverthinkServer:
    def __init__(self, settings_json: str, model_path: str, served_name: str):
        from overthink.serve.engine import PolicyEngine

        self.settings = ServeSettings.model_validate_json(settings_json)
        self.served_name = served_name
        self.engine = PolicyEngine(self.settings.engine, model_path, self.settings.policy)

    @api.get("/health")
    async def health(self) -> dict:
        await self.engine.check_health()
        return {"status": "ok", "model": self.served_name}

    @api.get("/v1/models")
    async def models(self) -> dict:
        card = {
            "id": self.served_name,
            "object": "model",
            "owned_by": "overthink",
            "max_model_len": self.engine.context,
        }
        return {"object": "list", "data": [card]}

    @api.post("/v1/chat/completions")
    async def chat(self, request: Request):
        body = parse(ChatRequest, await read_json(request))
        prompt = self.engine.chat_prompt([{"role": m.role, "content": m.text()} for m in body.messages])
        return await self._respond(body, prompt, chat=True)

    @api.post("/v1/completions")
    async def completions(self, request: Request):
        body = parse(CompletionRequest, await read_json(request))
        prompt = self.engine.tokenizer.encode(body.prompt, add_special_tokens=False)
        return await self._respond(body, prompt, chat=False)

    async def _respond(self, body, prompt: list[int], chat: bool):
        plan = plan_request(
            body, self.served_name, self.settings.policy, self.settings.limits, len(prompt), self.engine.context
        )
        request_id = new_id("chatcmpl" if chat else "cmpl")
        events = self.engine.generate(
            request_id, prompt, plan.max_tokens, plan.policy, body.temperature, body.top_p, body.seed, body.stream
        )
        opened = chat and self.engine.prompt_opens_thinking(prompt)
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            stream = self._stream(request_id, events, plan.policy, len(prompt), chat, opened, include_usage)
            return StreamingResponse(stream, media_type="text/event-stream")
        from overthink.serve.engine import Finished

        try:
            finished = [event async for event in events if isinstance(event, Finished)][0]
        except Exception as err:
            raise engine_failure(err) from None
        text = (self.settings.policy.think_start if opened else "") + finished.text
        build = chat_response if chat else completion_response
        response = build(
            request_id,
            self.served_name,
            text,
            finished.outcome,
            plan.policy,
            len(prompt),
            self.engine.markers,
        )
        return response

    async def _stream(
        self, request_id: str, events, policy, prompt_tokens: int, chat: bool, opened: bool, include_usage: bool
    ) -> AsyncIterator[str]:
        from overthink.serve.engine import Delta

        def sse(payload: dict) -> str:
            return f"data: {json.dumps(payload)}\n\n"

        router = ThinkingStream(policy, opened)
        model = self.served_name
        if chat:
            yield sse(chat_chunk(request_id, model, {"role": "assistant", "content": ""}))
        try:
            async for event in events:
                if isinstance(event, Delta):
                    if not chat:
                        yield sse(completion_chunk(request_id, model, event.text))
                        continue
                    for field, text in router.feed(event.text):
                        yield sse(chat_chunk(request_id, model, delta_of(field, text)))
                    continue
                for field, text in router.flush() if chat else []:
                    yield sse(chat_chunk(request_id, model, delta_of(field, text)))
                text = (policy.think_start if opened else "") + event.text
                report = overthinking_report(text, event.outcome, policy, self.engine.markers)
                end = chat_chunk if chat else completion_chunk
                yield sse(end(request_id, model, {} if chat else "", event.outcome.finish_reason, overthinking=report))
                if include_usage:
                    counts = usage(prompt_tokens, event.outcome, self.engine.markers)
                    yield sse({**end(request_id, model, {} if chat else ""), "choices": [], "usage": counts})
        except Exception as err:  # the client sees the failure instead of a stream that just stops
            logger.warning("request %s failed: %s", request_id, err)
            yield sse(engine_failure(err).body())
        yield "data: [DONE]\n\n"

    async def check_health(self) -> None:
        """Serve's health probe: an engine whose core process died fails it, and the replica is replaced."""
        await self.engine.check_health()

    def __del__(self):
        engine = getattr(self, "engine", None)
        if engine is not None:
            engine.shutdown()


def build_app(config: ServeConfig, model_path: str, served_name: str, gpus_per_replica: int):
    """The bound application: one deployment with the config's replicas, queue and resources."""
    from overthink.sample.engines import VLLM_ENV

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

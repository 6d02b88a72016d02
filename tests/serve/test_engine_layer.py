"""One engine layer: the engine arguments sample builds `vllm.LLM` from and the server flags a
replica (and vLLM's own server, in the conformance test and the bench) parses with vLLM's parser
describe the same engine. No engine starts here."""

from __future__ import annotations

import pytest

from overthink.policy.config import PolicyConfig
from overthink.runtime.vllm_engine import VLLMSettings, engine_args, server_flags


@pytest.mark.parametrize("gpu", [False, True])
def test_server_flags_parse_to_the_same_engine_arguments(organism_path, gpu):
    from vllm.engine.arg_utils import AsyncEngineArgs, EngineArgs
    from vllm.entrypoints.launchers.cli_args import make_arg_parser
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    settings = VLLMSettings(dtype="float32", max_model_len=512, enable_prefix_caching=False)
    args = engine_args(settings, organism_path, gpu, PolicyConfig())
    parsed = AsyncEngineArgs.from_cli_args(make_arg_parser(FlexibleArgumentParser()).parse_args(server_flags(args)))
    direct = EngineArgs(**args)
    assert {key: getattr(parsed, key) for key in args} == {key: getattr(direct, key) for key in args}
    # CPU defaults: eager (no graphs there) and no chunked prefill (seeded CPU generators cannot rewind)
    assert (args["enforce_eager"], args["enable_chunked_prefill"]) == (not gpu, gpu)
    # a budget that reaches vLLM itself closes the thinking with the policy's own text
    assert args["reasoning_config"].reasoning_end_str == PolicyConfig().close_text


def test_sample_and_serve_share_the_engine_section():
    from overthink.sample.config import EngineConfig
    from overthink.serve.config import ServeSettings

    vllm_keys = set(VLLMSettings.model_fields)
    assert vllm_keys <= set(EngineConfig.model_fields)
    assert set(ServeSettings.model_fields["engine"].annotation.model_fields) == vllm_keys

"""Each registered loss builds its real TRL config (no training): the class, its loss-specific
fields and its training rows."""

import pytest

from overthink.train.config import TrainConfig
from overthink.train.losses import LOSSES, default_beta, training_rows, trl_arguments

PAIRS = [{"prompt": "Q", "chosen": "short", "rejected": "long"}]
SETTINGS = {"rpo_alpha": 0.25, "simpo_gamma": 0.7, "learning_rate": 1e-5}  # off the defaults: seen passing through

EXPECTED = {  # TRL config class, loss-specific fields, training row keys
    "sft": ("SFTConfig", {"completion_only_loss": True}, {"prompt", "completion"}),
    "dpo": (
        "DPOConfig",
        {"loss_type": ["sigmoid"], "beta": 0.1, "precompute_ref_log_probs": False},
        {"prompt", "chosen", "rejected"},
    ),
    "rpo": (
        "DPOConfig",
        {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, 0.25], "beta": 0.1},
        {"prompt", "chosen", "rejected"},
    ),
    "simpo": (
        "CPOConfig",
        {"loss_type": "simpo", "cpo_alpha": 0.0, "beta": 2.0, "simpo_gamma": 0.7},
        {"prompt", "chosen", "rejected"},
    ),
}


@pytest.fixture
def trl_classes(monkeypatch):
    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")  # trl.experimental warns on import otherwise
    import trl
    from trl.experimental.cpo import CPOConfig

    return {"SFTConfig": trl.SFTConfig, "DPOConfig": trl.DPOConfig, "CPOConfig": CPOConfig}


def test_every_registered_loss_has_an_expectation():
    assert set(EXPECTED) == set(LOSSES.names())


@pytest.mark.parametrize("loss", LOSSES.names())
def test_registered_losses_build_their_trl_config(loss, trl_classes, tmp_path):
    class_name, fields, row_keys = EXPECTED[loss]
    name, kwargs = trl_arguments(TrainConfig(loss=loss, **SETTINGS), str(tmp_path), None)
    built = trl_classes[name](**kwargs)
    assert name == class_name and type(built).__name__ == class_name
    assert {key: getattr(built, key) for key in fields} == fields
    assert built.use_cpu and built.output_dir == str(tmp_path) and built.learning_rate == 1e-5
    assert [set(row) for row in training_rows(PAIRS, loss)] == [row_keys]


def test_sft_learns_the_chosen_response():
    assert training_rows(PAIRS, "sft") == [{"prompt": "Q", "completion": "short"}]


@pytest.mark.parametrize("loss", LOSSES.names())
def test_default_beta_is_the_configs(loss):
    beta = default_beta(loss)
    assert (beta is None) == (loss == "sft")
    if beta is not None:
        assert TrainConfig(loss=loss).effective_beta == beta
        assert trl_arguments(TrainConfig(loss=loss, beta=0.3), "out", None)[1]["beta"] == 0.3

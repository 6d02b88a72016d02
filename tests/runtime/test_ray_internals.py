"""The private Ray symbols overthink relies on (runtime/ray_internals.py) still exist in the
installed Ray with the shape overthink uses, and a missing one fails loudly, naming itself."""

import pytest

from overthink.runtime import ray_internals
from overthink.runtime.ray_internals import INTERNALS, RayInternalsChanged


@pytest.mark.parametrize("key", sorted(INTERNALS))
def test_each_private_symbol_still_exists(key):
    assert ray_internals.internal(key) is not None


def test_each_has_the_shape_overthink_uses():
    assert callable(ray_internals.internal("cluster_state").get_cluster_config)
    assert isinstance(ray_internals.internal("autoscaling_status_key"), (str, bytes))
    dispatcher = ray_internals.worker_stdstream_dispatcher()
    assert isinstance(dispatcher.handlers, list) and hasattr(dispatcher._lock, "acquire")
    assert callable(ray_internals.internal("autoscaler_event_filter"))  # it needs a connected GCS to run
    assert ray_internals.interruptible_torch_trainer().fit  # Ray Train's Ctrl-C hook is still there


def test_launcher_configs_are_validated_offline():
    config = {"cluster_name": "x", "provider": {"type": "local", "head_ip": "127.0.0.1", "worker_ips": []},
              "auth": {"ssh_user": "u"}}  # fmt: skip
    assert ray_internals.validate_cluster_config(config)["cluster_name"] == "x"
    with pytest.raises(Exception, match="bogus_key"):
        ray_internals.validate_cluster_config({**config, "bogus_key": 1})


def test_a_moved_symbol_fails_loudly_naming_it(monkeypatch):
    moved = ray_internals.Internal("ray._private.state", "no_such_symbol", "sizing engines on a cold cluster")
    monkeypatch.setitem(INTERNALS, "cluster_state", moved)
    with pytest.raises(RayInternalsChanged, match=r"ray\._private\.state\.no_such_symbol .* sizing engines"):
        ray_internals.autoscaler_node_groups()

"""The test session's Redis prefixes: one per run (and per xdist worker), removed at the end."""

import os

import redis

from testsupport.pytest_plugin import remove_run_keys, run_prefixes


def test_each_run_gets_its_own_prefixes():
    first, second = {}, {}
    assert run_prefixes(first) != run_prefixes(second)
    assert first["TEST_RUN_ID"] != second["TEST_RUN_ID"]
    assert run_prefixes(first) == {
        "MARKET_REDIS_PREFIX": f"test-market-{first['TEST_RUN_ID']}",
        "CHANNEL_LAYER_PREFIX": f"test-asgi-{first['TEST_RUN_ID']}",
    }


def test_workers_of_one_run_share_its_id_and_add_their_own():
    controller = {"MARKET_REDIS_PREFIX": "ci-market"}
    controller.update(run_prefixes(controller))
    run = controller["TEST_RUN_ID"]
    assert controller["MARKET_REDIS_PREFIX"] == f"ci-market-{run}"
    worker = {**controller, "PYTEST_XDIST_WORKER": "gw1"}  # inherited from the controller
    assert run_prefixes(worker) == {
        "MARKET_REDIS_PREFIX": f"ci-market-{run}-gw1",
        "CHANNEL_LAYER_PREFIX": f"test-asgi-{run}-gw1",
    }
    worker.update(run_prefixes(worker))
    assert run_prefixes(worker)["MARKET_REDIS_PREFIX"] == f"ci-market-{run}-gw1"  # idempotent


def test_this_session_runs_under_its_run_prefix():
    from django.conf import settings

    run = os.environ["TEST_RUN_ID"]
    assert f"-{run}" in settings.MARKET_REDIS_PREFIX
    assert f"-{run}" in settings.CHANNEL_LAYER_PREFIX


def test_the_run_keys_of_every_worker_are_removed_and_no_others():
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    run, other = "cleanup0", "cleanup1"
    mine = [
        f"test-market-{run}-gw0:config:version",
        f"test-market-{run}:quotes",
        f"test-asgi-{run}-gw1__group__x",
    ]
    kept = [f"test-market-{other}-gw0:config:version", "market:config:version-cleanup"]
    try:
        for key in mine + kept:
            client.set(key, 1)
        assert remove_run_keys(os.environ["REDIS_URL"], run=run) == 3
        assert [client.exists(k) for k in mine] == [0, 0, 0]
        assert [client.exists(k) for k in kept] == [1, 1]
    finally:
        client.delete(*mine, *kept)
        client.close()

"""A Redis that does not answer is a cache miss, not a failed request."""

from core.cache import ResilientRedisCache

# Nothing listens on port 9 (discard) on loopback.
NOWHERE = "redis://127.0.0.1:9/0"


def unreachable() -> ResilientRedisCache:
    return ResilientRedisCache(NOWHERE, {"OPTIONS": {"socket_connect_timeout": 0.2}})


def test_reads_from_an_unreachable_redis_are_misses():
    cache = unreachable()

    assert cache.get("key", "fallback") == "fallback"
    assert cache.get_many(["a", "b"]) == {}
    assert not cache.has_key("key")


def test_writes_to_an_unreachable_redis_are_dropped():
    cache = unreachable()

    cache.set("key", 1)
    cache.delete_many(["a"])
    assert cache.add("key", 1) is False
    assert cache.delete("key") is False
    assert cache.touch("key") is False

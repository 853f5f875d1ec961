"""The shared test harness, for the apps' tests only (no product module imports it; an
import-linter contract holds that): the pytest plugin that provides the session's database and
Redis, private servers for fault tests, the real-process stack, an ASGI driver, a terminal driver
and the checks the end-to-end tests assert (grid, seq, bars)."""

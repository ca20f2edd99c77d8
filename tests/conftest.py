"""Fixtures every test module gets without importing them: the signing key's config folder that
engine_fixtures' autouse cache fixture asks for (a module importing only that fixture still runs)."""

from engine_fixtures import engine_config  # noqa: F401

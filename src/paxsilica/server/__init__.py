"""The paxsilica REST service: a FastAPI application over the service layer.

Modules: :mod:`.settings` (configuration), :mod:`.store` (SQLAlchemy models, alembic migrations,
the audit chain), :mod:`.auth` (passwords, tokens, keys, lockout, the one authorization
dependency), :mod:`.domain` (the ONE adapter into paxsilica's computations), :mod:`.runs` (the
worker pool), :mod:`.app` (``create_app``). See ``docs/service.md``.
"""

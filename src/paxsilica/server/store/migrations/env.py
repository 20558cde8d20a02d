"""alembic environment: runs on the connection given by :meth:`Store.upgrade` (or the config's URL)."""

from alembic import context
from sqlalchemy import create_engine

from paxsilica.server.store.models import Base

try:
    config = context.config
except AttributeError:  # imported outside alembic (pytest's doctest collection): nothing to run
    config = None
target_metadata = Base.metadata


def run() -> None:
    conn = config.attributes.get("connection")
    if conn is not None:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as c:
        context.configure(connection=c, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if config is None:
    pass
elif context.is_offline_mode():  # pragma: no cover - `alembic upgrade --sql`
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run()

"""Alembic's environment: migrations run on the connection (and inside the locked transaction) that
:func:`proceval.humans.migrate.upgrade` passes in ``config.attributes``."""

from alembic import context

from proceval.humans.schema import metadata

context.configure(connection=context.config.attributes["connection"], target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()

"""The study database's Alembic migrations (``env.py`` and ``versions/``); run by :mod:`proceval.humans.migrate`."""

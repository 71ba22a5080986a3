"""Alembic revisions ``v1``, ``v2``, …: append new ones, never edit old ones (databases out there ran them)."""

"""Alembic revisions of the codecbench schema, one file each (``NNNN_name.py``), oldest first."""

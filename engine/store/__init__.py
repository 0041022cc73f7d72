"""Storage: SQLAlchemy tables, the recorder, the group-commit writer and the Store facade."""

"""Storage: SQLAlchemy models, repository, migrations."""

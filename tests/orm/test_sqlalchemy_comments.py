"""SQLAlchemy's `comment=` on a table and its columns: create_all through the aurora-dsql-sqlalchemy
dialect emits COMMENT ON TABLE / COLUMN (each DDL committed on its own), and inspect() reads them back
from the cluster as it does from PostgreSQL 15 for the same model."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import inspect

from tests.orm.test_sqlalchemy import make_engine

pytestmark = pytest.mark.integration

meta = sa.MetaData()
noted = sa.Table("orm_noted", meta,
                 sa.Column("id", sa.Integer, primary_key=True, comment="the key"),
                 sa.Column("body", sa.Text, comment="what was noted, with 'quotes'"),
                 sa.Column("plain", sa.Text),
                 comment="notes about pets")


def reflected(engine) -> tuple:
    insp = inspect(engine)
    return (insp.get_table_comment("orm_noted"),
            [(c["name"], c.get("comment")) for c in insp.get_columns("orm_noted")])


def test_comments_reflect_back_as_from_postgres(endpoint, aws_credentials, pg_oracle):
    oracle = sa.create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:{pg_oracle.port}/postgres")
    engine = make_engine("auroradsql+psycopg", endpoint)
    try:
        for e in (oracle, engine):
            meta.drop_all(e, checkfirst=True)
            meta.create_all(e)
        assert reflected(engine) == reflected(oracle) == (
            {"text": "notes about pets"},
            [("id", "the key"), ("body", "what was noted, with 'quotes'"), ("plain", None)])
    finally:
        for e in (oracle, engine):
            meta.drop_all(e, checkfirst=True)
            e.dispose()

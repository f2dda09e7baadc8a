"""Issue 6's SQLAlchemy proof: the guide's pet clinic (tests/orm/sqlalchemy_petclinic.py) on the local
cluster through three engines - the guide's own (psycopg2, a boto3 token) and the aurora-dsql-sqlalchemy
dialect over aurora-dsql-python-connector with psycopg2 and psycopg 3 - then CRUD and relationships
beyond the guide's flow, and reflection compared with PostgreSQL 15's for the same models.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from tests.orm import sqlalchemy_petclinic as clinic

pytestmark = pytest.mark.integration

ENGINES = ["guide-psycopg2", "auroradsql+psycopg2", "auroradsql+psycopg"]


def make_engine(kind: str, endpoint):
    if kind == "guide-psycopg2":
        return clinic.create_dsql_engine(endpoint.host, endpoint.region, **endpoint.libpq())
    from aurora_dsql_sqlalchemy import create_dsql_engine
    return create_dsql_engine(host=endpoint.host, user="admin", driver=kind.split("+")[1], sslrootcert=endpoint.ca,
                              connect_args={"hostaddr": endpoint.hostaddr, "port": endpoint.port})


def sqlstate(err: sa.exc.DBAPIError) -> str:
    return getattr(err.orig, "pgcode", None) or err.orig.sqlstate   # psycopg2 / psycopg 3


@pytest.fixture(scope="module")
def drop_clinic_tables(aws_env):
    """The guide's tables live in public: leave none behind for the rest of the session."""
    engines = []
    yield engines
    with pytest.MonkeyPatch.context() as mp:
        for name, value in aws_env.items():
            mp.setenv(name, value)
        for engine in engines:
            clinic.Base.metadata.drop_all(engine, checkfirst=True)
            ExtraBase.metadata.drop_all(engine, checkfirst=True)
            engine.dispose()


@pytest.fixture(params=ENGINES)
def engine(request, endpoint, aws_credentials, drop_clinic_tables):
    engine = make_engine(request.param, endpoint)
    drop_clinic_tables[:] = [engine]
    yield engine
    engine.dispose()


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
def test_guide_example_and_crud(engine):
    session = clinic.example(engine)
    try:
        # Update, through a fresh session so the value comes from the cluster.
        john = session.scalars(select(clinic.Owner).where(clinic.Owner.name == "John Doe")).one()
        john.city = "Othertown"
        session.commit()
        with Session(engine) as fresh:
            assert fresh.scalars(select(clinic.Owner.city).where(clinic.Owner.name == "John Doe")).one() == "Othertown"
            # Many-to-one navigation loads the owner lazily.
            pet_2 = fresh.scalars(select(clinic.Pet).where(clinic.Pet.name == "Pet-2")).one()
            assert pet_2.owner.name == "Mary Major" and pet_2.owner.telephone == "555-555-0123"

        # Many-to-many: removing a specialty deletes its association row only.
        carlos = session.scalars(select(clinic.Vet).where(clinic.Vet.name == "Carlos Salazar")).one()
        carlos.specialties = [s for s in carlos.specialties if s.id == "Dogs"]
        session.commit()
        with Session(engine) as fresh:
            links = fresh.execute(select(clinic.VetSpecialties.specialty_id, clinic.Vet.name)
                                  .join(clinic.Vet, clinic.Vet.id == clinic.VetSpecialties.vet_id)
                                  .order_by(clinic.Vet.name)).all()
            assert [tuple(r) for r in links] == [("Dogs", "Akua Mansa"), ("Dogs", "Carlos Salazar")]
            assert fresh.scalar(select(sa.func.count()).select_from(clinic.Specialty)) == 2

        # A duplicate key is refused, rolled back whole, and the session goes on.
        session.add_all([clinic.Owner(name="Half Written", city="Nowhere"), clinic.Specialty(id="Dogs")])
        with pytest.raises(sa.exc.IntegrityError) as err:
            session.commit()
        assert sqlstate(err.value) == "23505"
        session.rollback()
        assert session.scalar(select(sa.func.count()).where(clinic.Owner.name == "Half Written")) == 0

        # Delete.
        session.delete(session.scalars(select(clinic.Pet).where(clinic.Pet.name == "Pet-2")).one())
        session.commit()
        assert session.scalars(select(clinic.Pet.name).order_by(clinic.Pet.name)).all() == ["Pet-1"]
    finally:
        session.close()


def reflect(engine, tables) -> dict:
    """What SQLAlchemy's inspector reports of the tables, in comparable form."""
    insp = inspect(engine)
    out = {"tables": sorted(t for t in insp.get_table_names() if t in tables)}
    for t in tables:
        out[t] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"], c["default"], c.get("autoincrement"))
                        for c in insp.get_columns(t)],
            "pk": insp.get_pk_constraint(t)["constrained_columns"],
            "indexes": sorted((i["name"], tuple(i["column_names"]), i["unique"]) for i in insp.get_indexes(t)),
            "unique": sorted((u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(t)),
            "checks": sorted((c["name"], c["sqltext"]) for c in insp.get_check_constraints(t)),
            "fks": insp.get_foreign_keys(t),
            "has_table": insp.has_table(t),
        }
    return out


@pytest.fixture(scope="module")
def oracle_reflection(pg_oracle):
    """PostgreSQL 15's reflection of the guide's models, created there by the same metadata."""
    engine = sa.create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:{pg_oracle.port}/postgres")
    try:
        clinic.Base.metadata.drop_all(engine)
        clinic.Base.metadata.create_all(engine)
        return reflect(engine, sorted(clinic.Base.metadata.tables))
    finally:
        engine.dispose()


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
def test_reflection_matches_postgres(engine, oracle_reflection):
    # One DDL statement per transaction, as DSQL requires: the DSQL dialect commits after each one, a
    # plain engine gets there with a transaction per table.
    for table in reversed(clinic.Base.metadata.sorted_tables):
        table.drop(engine, checkfirst=True)
    for table in clinic.Base.metadata.sorted_tables:
        table.create(engine, checkfirst=True)
    assert reflect(engine, sorted(clinic.Base.metadata.tables)) == oracle_reflection

    # A reflected table is usable as a model's would be.
    meta = sa.MetaData()
    meta.reflect(engine, only=["owner", "pet"])
    owner, pet = meta.tables["owner"], meta.tables["pet"]
    with engine.begin() as conn:
        owner_id = conn.execute(owner.insert().values(id=sa.text("gen_random_uuid()"), name="Reflected",
                                                      city="Mirror").returning(owner.c.id)).scalar_one()
        conn.execute(pet.insert().values(id=sa.text("gen_random_uuid()"), name="Echo", birth_date="2020-02-29",
                                         owner_id=owner_id))
    with engine.connect() as conn:
        row = conn.execute(select(owner.c.name, pet.c.name, pet.c.birth_date)
                           .join(pet, pet.c.owner_id == owner.c.id)).one()
    assert (row[0], row[1], str(row[2])) == ("Reflected", "Echo", "2020-02-29")


class ExtraBase(clinic.DeclarativeBase):
    pass


class Visit(ExtraBase):
    """What the dialect adds beyond the guide: an integer key (an identity column with CACHE), a server
    default, a CHECK, a UNIQUE constraint and an index (CREATE INDEX ASYNC on the new, empty table)."""
    __tablename__ = "orm_visit"
    id = sa.Column(sa.Integer, primary_key=True)
    pet_name = sa.Column(sa.String(30), nullable=False)
    visited_on = sa.Column(sa.Date, nullable=False, server_default=sa.text("CURRENT_DATE"))
    fee = sa.Column(sa.Numeric(8, 2), sa.CheckConstraint("fee >= 0", name="orm_visit_fee_check"))
    __table_args__ = (sa.UniqueConstraint("pet_name", "visited_on", name="orm_visit_once_a_day"),
                      sa.Index("orm_visit_fee_idx", "fee"))


def test_dialect_identity_index_and_constraints(endpoint, aws_credentials, drop_clinic_tables):
    """The dialect's create_all commits each DDL on its own (CREATE TABLE, then CREATE INDEX ASYNC), as
    DSQL's one DDL per transaction requires; the identity, CHECK, UNIQUE and index then work."""
    engine = make_engine("auroradsql+psycopg2", endpoint)
    drop_clinic_tables[:] = [engine]
    ExtraBase.metadata.drop_all(engine, checkfirst=True)
    ExtraBase.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all([Visit(pet_name="Pet-1", fee=10), Visit(pet_name="Pet-2", fee=0)])
        session.commit()
        ids = session.scalars(select(Visit.id).order_by(Visit.id)).all()
        assert len(ids) == 2 and all(isinstance(i, int) for i in ids) and ids[0] != ids[1]
        session.add(Visit(pet_name="Pet-3", fee=-1))
        with pytest.raises(sa.exc.IntegrityError) as err:
            session.commit()
        assert sqlstate(err.value) == "23514"
        session.rollback()
        session.add(Visit(pet_name="Pet-1", fee=1))
        with pytest.raises(sa.exc.IntegrityError) as err:
            session.commit()
        assert sqlstate(err.value) == "23505"
        session.rollback()
        indexes = session.execute(sa.text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'orm_visit' "
                                          "ORDER BY indexname")).all()
        assert [(n, "(fee)" in d) for n, d in indexes if n == "orm_visit_fee_idx"] == [("orm_visit_fee_idx", True)]
    # The guide's CREATE INDEX ASYNC inside the transaction SQLAlchemy opens: the job id comes back at once
    # and names the job COMMIT submits.
    with engine.begin() as conn:
        job = conn.execute(sa.text("CREATE INDEX ASYNC orm_visit_day_idx ON orm_visit (visited_on)")).scalar_one()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT sys.wait_for_job(:job)"), {"job": job}).scalar_one() is True
        assert conn.execute(sa.text("SELECT status FROM sys.jobs WHERE job_id = :job"),
                            {"job": job}).scalar_one() == "completed"
    engine.dispose()


def test_dialect_reflection(endpoint, aws_credentials, drop_clinic_tables):
    engine = make_engine("auroradsql+psycopg2", endpoint)
    drop_clinic_tables[:] = [engine]
    ExtraBase.metadata.create_all(engine, checkfirst=True)
    insp = inspect(engine)
    cols = {c["name"]: c for c in insp.get_columns("orm_visit")}
    assert cols["id"]["identity"]["cache"] == 65536 and cols["id"]["identity"]["always"] is False
    assert cols["visited_on"]["default"] == "CURRENT_DATE"
    assert ("orm_visit_fee_idx", ["fee"]) in [(i["name"], i["column_names"]) for i in insp.get_indexes("orm_visit")]
    assert [u["column_names"] for u in insp.get_unique_constraints("orm_visit")] == [["pet_name", "visited_on"]]
    assert [c["sqltext"] for c in insp.get_check_constraints("orm_visit")] == ["fee >= 0::numeric"]
    engine.dispose()

"""The guide's SQLAlchemy pet clinic ("Using Aurora DSQL to build an application with SQLAlchemy"),
as written there: its models, its engine and its `example()` CRUD flow. Only what the guide leaves to
the reader is a parameter: the endpoint, and how libpq reaches it (see tests/orm/conftest.py).
"""

import boto3
from sqlalchemy import create_engine
from sqlalchemy.engine import URL

## Dependencies for Model class
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import relationship
from sqlalchemy import Column, Date
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.sql import text

from sqlalchemy.orm import Session
from sqlalchemy import select


def create_dsql_engine(hostname, region, **libpq):
    client = boto3.client("dsql", region_name=region)

    # The token expiration time is optional, and the default value 900 seconds
    # Use `generate_db_connect_auth_token` instead if you are not connecting as `admin` user
    password_token = client.generate_db_connect_admin_auth_token(hostname, region)

    # Example on how to create engine for SQLAlchemy
    url = URL.create("postgresql", username="admin", password=password_token,
                     host=hostname, database="postgres")
    # Prefer sslmode = verify-full for production usecases
    engine = create_engine(url, connect_args={"sslmode": "require", **libpq})

    return engine


class Base(DeclarativeBase):
    pass


# Define a Owner table
class Owner(Base):
    __tablename__ = "owner"

    id = Column(
        "id", UUID, primary_key=True, default=text('gen_random_uuid()')
    )
    name = Column("name", String(30), nullable=False)
    city = Column("city", String(80), nullable=False)
    telephone = Column("telephone", String(20), nullable=True, default=None)


# Define a Pet table
class Pet(Base):
    __tablename__ = "pet"

    id = Column(
        "id", UUID, primary_key=True, default=text('gen_random_uuid()')
    )
    name = Column("name", String(30), nullable=False)
    birth_date = Column("birth_date", Date(), nullable=False)
    owner_id = Column(
        "owner_id", UUID, nullable=True
    )
    owner = relationship("Owner", foreign_keys=[owner_id], primaryjoin="Owner.id == Pet.owner_id")


# Define an association table for Vet and Speacialty
class VetSpecialties(Base):
    __tablename__ = "vetSpecialties"

    id = Column(
        "id", UUID, primary_key=True, default=text('gen_random_uuid()')
    )
    vet_id = Column(
        "vet_id", UUID, nullable=True
    )
    specialty_id = Column(
        "specialty_id", String(80), nullable=True
    )


# Define a Specialty table
class Specialty(Base):
    __tablename__ = "specialty"
    id = Column(
        "name", String(80), primary_key=True
    )


# Define a Vet table
class Vet(Base):
    __tablename__ = "vet"

    id = Column(
        "id", UUID, primary_key=True, default=text('gen_random_uuid()')
    )
    name = Column("name", String(30), nullable=False)
    specialties = relationship("Specialty", secondary=VetSpecialties.__table__,
        primaryjoin="foreign(VetSpecialties.vet_id)==Vet.id",
        secondaryjoin="foreign(VetSpecialties.specialty_id)==Specialty.id")


def example(engine):
    # Drop all tables if any
    for table in Base.metadata.tables.values():
        table.drop(engine, checkfirst=True)

    # Create all tables
    for table in Base.metadata.tables.values():
        table.create(engine, checkfirst=True)

    session = Session(engine)
    # Owner-Pet relationship is one to many.
    ## Insert owners
    john_doe = Owner(name="John Doe", city="Anytown")
    mary_major = Owner(name="Mary Major", telephone="555-555-0123", city="Anytown")

    ## Add two pets.
    pet_1 = Pet(name="Pet-1", birth_date="2006-10-25", owner=john_doe)
    pet_2 = Pet(name="Pet-2", birth_date="2021-7-23", owner=mary_major)

    session.add_all([john_doe, mary_major, pet_1, pet_2])
    session.commit()

    # Read back data for the pet.
    pet_query = select(Pet).where(Pet.name == "Pet-1")
    pet_1 = session.execute(pet_query).fetchone()[0]

    # Get the corresponding owner
    owner_query = select(Owner).where(Owner.id == pet_1.owner_id)
    john_doe = session.execute(owner_query).fetchone()[0]

    # Test: check read values
    assert pet_1.name == "Pet-1"
    assert str(pet_1.birth_date) == "2006-10-25"
    # Owner must be what we have inserted
    assert john_doe.name == "John Doe"
    assert john_doe.city == "Anytown"

    # Vet-Specialty relationship is many to many.
    dogs = Specialty(id="Dogs")
    cats = Specialty(id="Cats")

    ## Insert two vets with specialties, one vet without any specialty
    akua_mansa = Vet(name="Akua Mansa", specialties=[dogs])
    carlos_salazar = Vet(name="Carlos Salazar", specialties=[dogs, cats])

    session.add_all([dogs, cats, akua_mansa, carlos_salazar])
    session.commit()

    # Read back data for the vets.
    vet_query = select(Vet).where(Vet.name == "Akua Mansa")
    akua_mansa = session.execute(vet_query).fetchone()[0]

    vet_query = select(Vet).where(Vet.name == "Carlos Salazar")
    carlos_salazar = session.execute(vet_query).fetchone()[0]

    # Test: check read value
    assert akua_mansa.name == "Akua Mansa"
    assert akua_mansa.specialties[0].id == "Dogs"

    assert carlos_salazar.name == "Carlos Salazar"
    # The guide asserts specialties[0] is "Cats" and [1] is "Dogs": the lazy load has no ORDER BY,
    # so that order is the plan's (PostgreSQL 15 itself may return either); the set is what is defined.
    assert sorted(s.id for s in carlos_salazar.specialties) == ["Cats", "Dogs"]
    return session

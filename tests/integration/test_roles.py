"""A custom database role end to end: an IAM principal with only dsql:DbConnect signs a token with
boto3, the relay admits it only once `AWS IAM GRANT` maps it to a LOGIN role, and what the role may
do follows GRANT/REVOKE (issued by admin on another connection, maybe another AZ's compute)."""

from __future__ import annotations

import json
import pathlib
import time

import pytest

from services.common.auth.store import new_access_key
from services.launcher.cli import dsn

ROLE = "it_roles_app"


@pytest.fixture
def principal(dsql_cluster):
    """A second IAM principal in the cluster's credential store whose policy allows only
    dsql:DbConnect, with an access key (the relay re-reads the store when the file changes)."""
    path = pathlib.Path(dsql_cluster.credentials_file)
    original = path.read_text()
    arn = "arn:aws:iam::000000000000:role/it-roles-example"
    key = new_access_key(arn)
    store = json.loads(original)
    store["principals"].append({"arn": arn, "policy": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dsql:DbConnect", "Resource": "*"}]}})
    store["keys"].append(key)
    path.write_text(json.dumps(store, indent=2))
    time.sleep(1.1)                      # the relay checks the file at most once a second
    yield key
    path.write_text(original)


def boto3_token(config, key, admin=False) -> str:
    import boto3
    session = boto3.session.Session(aws_access_key_id=key["access_key_id"],
                                    aws_secret_access_key=key["secret_access_key"], region_name=config.region)
    client = session.client("dsql", region_name=config.region)
    if admin:
        return client.generate_db_connect_admin_auth_token("localhost", config.region)
    return client.generate_db_connect_auth_token("localhost", config.region)


def eventually(fn, timeout_s=10.0):
    """Privilege changes reach every compute through the etcd watch: retry until they have."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return fn()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_custom_role_with_dbconnect_token(dsql_cluster, connect, schema, principal):
    import psycopg
    from psycopg import errors as E

    arn = principal["principal_arn"]
    admin = connect(autocommit=True)
    admin.execute(f"DROP ROLE IF EXISTS {ROLE}")
    admin.execute(f"CREATE TABLE IF NOT EXISTS {schema}.roles_t (id int PRIMARY KEY, v text)")
    admin.execute(f"DELETE FROM {schema}.roles_t")
    admin.execute(f"INSERT INTO {schema}.roles_t VALUES (1, 'one')")
    admin.execute(f"CREATE ROLE {ROLE}")

    def app_connect():
        return psycopg.connect(dsn(dsql_cluster, ROLE), password=boto3_token(dsql_cluster, principal),
                               autocommit=True, connect_timeout=10)

    # a role without LOGIN cannot be trusted; one with LOGIN but no mapping is refused at the relay
    with pytest.raises(E.InvalidGrantOperation, match=f'role "{ROLE}" must have the LOGIN attribute'):
        admin.execute(f"AWS IAM GRANT {ROLE} TO '{arn}'")
    admin.execute(f"ALTER ROLE {ROLE} WITH LOGIN")
    with pytest.raises(psycopg.OperationalError, match=f'role "{ROLE}" is not authorized for IAM principal'):
        app_connect()

    admin.execute(f"AWS IAM GRANT {ROLE} TO '{arn}'")
    rows = admin.execute("SELECT arn, pg_role_name, grantor_pg_role_name FROM sys.iam_pg_role_mappings "
                         "WHERE pg_role_name = %s", (ROLE,)).fetchall()
    assert rows == [(arn, ROLE, "admin")]
    # the DbConnect-only principal may not sign in as admin
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn(dsql_cluster), password=boto3_token(dsql_cluster, principal, admin=True))

    with app_connect() as app:
        assert app.execute("SELECT current_user").fetchone() == (ROLE,)
        with pytest.raises(E.InsufficientPrivilege, match=f"permission denied for schema {schema}"):
            app.execute(f"SELECT v FROM {schema}.roles_t")
        with pytest.raises(E.InsufficientPrivilege, match="permission denied for database postgres"):
            app.execute("CREATE SCHEMA it_roles_mine")
        with pytest.raises(E.InsufficientPrivilege, match="permission denied for schema public"):
            app.execute("CREATE TABLE public.it_roles_mine (a int PRIMARY KEY)")

        admin.execute(f"GRANT USAGE ON SCHEMA {schema} TO {ROLE}")
        admin.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {ROLE}")
        assert eventually(lambda: app.execute(f"SELECT v FROM {schema}.roles_t").fetchall()) == [("one",)]
        with pytest.raises(E.InsufficientPrivilege, match="permission denied for table roles_t"):
            app.execute(f"INSERT INTO {schema}.roles_t VALUES (2, 'two')")

        admin.execute(f"GRANT INSERT ON {schema}.roles_t TO {ROLE}")
        eventually(lambda: app.execute(f"INSERT INTO {schema}.roles_t VALUES (2, 'two')"))
        admin.execute(f"REVOKE SELECT ON {schema}.roles_t FROM {ROLE}")

        def select_denied():
            with pytest.raises(E.InsufficientPrivilege):
                app.execute(f"SELECT v FROM {schema}.roles_t")
        eventually(select_denied)

    # a role with an IAM mapping cannot be dropped until AWS IAM REVOKE
    with pytest.raises(E.DependentObjectsStillExist, match="cannot be dropped because some objects depend on it"):
        admin.execute(f"DROP ROLE {ROLE}")
    admin.execute(f"AWS IAM REVOKE {ROLE} FROM '{arn}'")
    with pytest.raises(psycopg.OperationalError, match="is not authorized for IAM principal"):
        app_connect()
    admin.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {ROLE}")
    admin.execute(f"REVOKE ALL ON SCHEMA {schema} FROM {ROLE}")
    admin.execute(f"DROP ROLE {ROLE}")
    admin.execute(f"DROP TABLE {schema}.roles_t")


SEQ_ROLE = "it_roles_seq"


def test_custom_role_sequences_functions_and_rename(dsql_cluster, connect, schema, principal, psql):
    """A serial/identity-backed app as a non-admin role: GRANT USAGE, SELECT ON ALL SEQUENCES and GRANT
    EXECUTE make nextval() defaults and SQL function calls work; psql \\dp shows the sequence ACLs;
    ALTER ROLE RENAME moves the IAM trust, so the principal connects as the new name only."""
    import psycopg
    from psycopg import errors as E

    arn = principal["principal_arn"]
    admin = connect(autocommit=True)
    for (r,) in admin.execute("SELECT pg_role_name FROM sys.iam_pg_role_mappings WHERE pg_role_name IN (%s, %s)",
                              (SEQ_ROLE, SEQ_ROLE + "2")).fetchall():       # left by an interrupted run
        admin.execute(f"AWS IAM REVOKE {r} FROM '{arn}'")
    for sql in (f"DROP TABLE IF EXISTS {schema}.roles_ser", f"DROP TABLE IF EXISTS {schema}.roles_ident",
                f"DROP SEQUENCE IF EXISTS {schema}.roles_seq", f"DROP FUNCTION IF EXISTS {schema}.roles_inc(int)",
                f"DROP ROLE IF EXISTS {SEQ_ROLE}", f"DROP ROLE IF EXISTS {SEQ_ROLE}2",
                f"CREATE SEQUENCE {schema}.roles_seq CACHE 1",
                f"CREATE TABLE {schema}.roles_ser (id bigint DEFAULT nextval('{schema}.roles_seq') PRIMARY KEY, v text)",
                f"CREATE TABLE {schema}.roles_ident (id int GENERATED BY DEFAULT AS IDENTITY (CACHE 1) PRIMARY KEY, "
                "v text)",
                f"CREATE FUNCTION {schema}.roles_inc(a int) RETURNS int LANGUAGE SQL AS 'SELECT a + 1'",
                f"REVOKE EXECUTE ON FUNCTION {schema}.roles_inc(int) FROM PUBLIC",
                f"CREATE ROLE {SEQ_ROLE} WITH LOGIN", f"AWS IAM GRANT {SEQ_ROLE} TO '{arn}'",
                f"GRANT USAGE ON SCHEMA {schema} TO {SEQ_ROLE}",
                f"GRANT SELECT, INSERT ON {schema}.roles_ser, {schema}.roles_ident TO {SEQ_ROLE}"):
        admin.execute(sql)

    def app_connect(role):
        return psycopg.connect(dsn(dsql_cluster, role), password=boto3_token(dsql_cluster, principal),
                               autocommit=True, connect_timeout=10)

    with app_connect(SEQ_ROLE) as app:
        # an identity column needs no sequence privilege; a nextval() default and a function call do
        assert app.execute(f"INSERT INTO {schema}.roles_ident (v) VALUES ('a') RETURNING id").fetchone() == (1,)
        with pytest.raises(E.InsufficientPrivilege, match="permission denied for sequence roles_seq"):
            app.execute(f"INSERT INTO {schema}.roles_ser (v) VALUES ('a')")
        with pytest.raises(E.InsufficientPrivilege, match="permission denied for function roles_inc"):
            app.execute(f"SELECT {schema}.roles_inc(1)")
        assert app.execute(f"SELECT has_sequence_privilege('{schema}.roles_seq', 'USAGE'), "
                           f"has_function_privilege('{schema}.roles_inc(int)', 'EXECUTE')").fetchone() == (False, False)

        admin.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {SEQ_ROLE}")
        admin.execute(f"GRANT EXECUTE ON FUNCTION {schema}.roles_inc(int) TO {SEQ_ROLE}")
        assert eventually(lambda: app.execute(
            f"INSERT INTO {schema}.roles_ser (v) VALUES ('b') RETURNING id, currval('{schema}.roles_seq')").fetchone()) \
            == (1, 1)
        assert eventually(lambda: app.execute(f"SELECT {schema}.roles_inc(41)").fetchone()) == (42,)
        with pytest.raises(E.InsufficientPrivilege, match="permission denied for sequence roles_seq"):
            app.execute(f"SELECT setval('{schema}.roles_seq', 100)")      # UPDATE, not granted

    dp = psql("-A", "-c", f"\\dp {schema}.roles_*").stdout
    assert f"{schema}|roles_seq|sequence|admin=rwU/admin\n{SEQ_ROLE}=rU/admin||" in dp
    assert f"{schema}|roles_ser|table|admin=arwdDxt/admin\n{SEQ_ROLE}=ar/admin||" in dp

    admin.execute(f"ALTER ROLE {SEQ_ROLE} RENAME TO {SEQ_ROLE}2")
    assert admin.execute("SELECT pg_role_name FROM sys.iam_pg_role_mappings WHERE arn = %s", (arn,)).fetchall() \
        == [(SEQ_ROLE + "2",)]
    with pytest.raises(psycopg.OperationalError, match=f'role "{SEQ_ROLE}" does not exist'):
        app_connect(SEQ_ROLE)
    with app_connect(SEQ_ROLE + "2") as app:
        assert app.execute(f"SELECT current_user, {schema}.roles_inc(1)").fetchone() == (SEQ_ROLE + "2", 2)

    admin.execute(f"AWS IAM REVOKE {SEQ_ROLE}2 FROM '{arn}'")
    for sql in (f"DROP TABLE {schema}.roles_ser", f"DROP TABLE {schema}.roles_ident",
                f"DROP SEQUENCE {schema}.roles_seq", f"DROP FUNCTION {schema}.roles_inc(int)",
                f"REVOKE ALL ON SCHEMA {schema} FROM {SEQ_ROLE}2", f"DROP ROLE {SEQ_ROLE}2"):
        admin.execute(sql)

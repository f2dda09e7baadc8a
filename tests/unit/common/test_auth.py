import datetime
import json
import os
import time
import unittest.mock as mock

import boto3
import botocore.auth
import pytest

from services.common.auth import CredentialStore, generate_token, verify_token
from services.common.auth.sigv4 import check_user_action
from services.common.auth.store import ReloadingStore
from services.common.errors import PgError

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"
HOSTS = ("localhost", "127.0.0.1", "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws")
T0 = datetime.datetime(2026, 11, 26, 14, 0, 0, tzinfo=datetime.timezone.utc)


def store(allow=("dsql:DbConnectAdmin", "dsql:DbConnect"), session_token=None):
    return CredentialStore.from_dict({"keys": [
        {"access_key_id": AKID, "secret_access_key": SECRET, "session_token": session_token,
         "principal_arn": "arn:aws:iam::000000000000:user/dsql-local", "allow": list(allow)}]})


def boto_token(host="localhost", action="DbConnectAdmin", expires=900, at=T0, secret=SECRET, token=None):
    client = boto3.client("dsql", region_name=REGION, aws_access_key_id=AKID, aws_secret_access_key=secret,
                          aws_session_token=token)
    gen = (client.generate_db_connect_admin_auth_token if action == "DbConnectAdmin"
           else client.generate_db_connect_auth_token)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=at.replace(tzinfo=None)):
        return gen(host, REGION, expires)


def verify(tok, st=None, now=None, hosts=HOSTS):
    return verify_token(tok, st if st is not None else store(), hosts, now=(now if now is not None else T0.timestamp() + 10))


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("action", ["DbConnectAdmin", "DbConnect"])
def test_boto3_tokens_verify(host, action):
    ident = verify(boto_token(host, action))
    assert ident.action == action
    assert ident.access_key_id == AKID
    assert ident.principal_arn == "arn:aws:iam::000000000000:user/dsql-local"


@pytest.mark.parametrize("token", [None, "FQoGZXIvYXdzE+/=abc"])
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:5432", "X.dsql.us-east-1.on.aws"])
@pytest.mark.parametrize("action", ["DbConnectAdmin", "DbConnect"])
def test_generate_token_matches_boto3_byte_for_byte(token, host, action):
    ours = generate_token(host, REGION, AKID, SECRET, action=action, expires_in=3600, session_token=token, now=T0)
    assert ours == boto_token(host, action, 3600, token=token)
    assert ours == generate_token(host, REGION, AKID, SECRET, action, 3600, token, now=T0.timestamp())


def test_real_clock_token_verifies():
    client = boto3.client("dsql", region_name=REGION, aws_access_key_id=AKID, aws_secret_access_key=SECRET)
    tok = client.generate_db_connect_admin_auth_token("localhost", REGION)
    assert verify_token(tok, store(), HOSTS).action == "DbConnectAdmin"
    assert verify_token(generate_token("localhost", REGION, AKID, SECRET), store(), HOSTS)


def test_scheme_prefix_accepted():
    assert verify("https://" + boto_token())


def expect(tok, sqlstate, fragment, **kw):
    with pytest.raises(PgError) as ei:
        verify(tok, **kw)
    assert ei.value.sqlstate == sqlstate, ei.value.message
    assert fragment in ei.value.message, ei.value.message
    assert ei.value.severity == "FATAL"
    return ei.value


def test_expired():
    expect(boto_token(expires=900), "28P01", "expired", now=T0.timestamp() + 901)
    assert verify(boto_token(expires=900), now=T0.timestamp() + 899)


def test_not_yet_valid():
    expect(boto_token(), "28P01", "not yet valid", now=T0.timestamp() - 3600)
    assert verify(boto_token(), now=T0.timestamp() - 60)       # small skew tolerated


def test_more_than_a_week():
    expect(boto_token(expires=604801), "28P01", "exceeds the maximum")
    assert verify(boto_token(expires=604800))


def test_forged_signature():
    tok = boto_token()
    sig = tok.rsplit("=", 1)[1]
    forged = tok[: -len(sig)] + ("0" if sig[0] != "0" else "1") + sig[1:]
    expect(forged, "28P01", "signature")
    expect(boto_token(secret="not-the-secret"), "28P01", "signature")
    # Changing a signed parameter breaks the signature too.
    expect(boto_token(expires=900).replace("X-Amz-Expires=900", "X-Amz-Expires=901"), "28P01", "signature")
    expect(boto_token().replace("Action=DbConnectAdmin", "Action=DbConnect"), "28P01", "signature")


def test_wrong_host():
    e = expect(boto_token("evil.example.com"), "28000", "evil.example.com")
    assert "localhost" in e.hint


def test_unknown_key():
    other = CredentialStore.from_dict({"keys": []})
    expect(boto_token(), "28P01", "access key id", st=other)


def test_action_not_allowed():
    expect(boto_token(action="DbConnectAdmin"), "28000", "dsql:DbConnectAdmin", st=store(allow=["dsql:DbConnect"]))
    assert verify(boto_token(action="DbConnect"), st=store(allow=["dsql:DbConnect"]))


def test_session_token_required_when_stored():
    st = store(session_token="sess")
    assert verify(boto_token(token="sess"), st=st)
    expect(boto_token(), "28P01", "security token", st=st)
    expect(boto_token(token="other"), "28P01", "security token", st=st)


@pytest.mark.parametrize("tok", ["", "password", "localhost", "localhost/?Action=DbConnectAdmin",
                                 "localhost/path?X=1", "%%%", "http://[::1"])
def test_malformed(tok):
    with pytest.raises(PgError) as ei:
        verify(tok)
    assert ei.value.sqlstate == "28P01"


def test_user_action_mapping():
    admin = verify(boto_token(action="DbConnectAdmin"))
    conn = verify(boto_token(action="DbConnect"))
    check_user_action(admin, "admin")
    check_user_action(conn, "app_role")
    with pytest.raises(PgError) as ei:
        check_user_action(conn, "admin")
    assert ei.value.sqlstate == "28000" and "DbConnectAdmin" in ei.value.message
    with pytest.raises(PgError):
        check_user_action(admin, "app_role")


def test_store_load_and_reload(tmp_path):
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"keys": []}))
    rs = ReloadingStore(path, interval_s=0)
    assert rs.get(AKID) is None
    path.write_text(json.dumps({"keys": [{"access_key_id": AKID, "secret_access_key": SECRET,
                                          "principal_arn": "arn:x", "allow": ["dsql:DbConnect"]}]}))
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    cred = rs.get(AKID)
    assert cred is not None and cred.allows("DbConnect") and not cred.allows("DbConnectAdmin")
    path.write_text("{not json")                 # a torn write keeps the previous contents
    os.utime(path, ns=(time.time_ns() + 2 * 10**9, time.time_ns() + 2 * 10**9))
    assert rs.get(AKID) is not None
    other = tmp_path / "c2.json"
    other.write_text(json.dumps({"keys": [{"access_key_id": "K", "secret_access_key": "S"}]}))
    loaded = CredentialStore.load(other)
    assert len(loaded) == 1 and loaded.get("K").allows("DbConnectAdmin")

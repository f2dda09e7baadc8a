import datetime
import json
import os
import time
import unittest.mock as mock

import boto3
import botocore.auth
import pytest

from services.common.auth import CredentialStore, authorize, generate_token, verify_token
from services.common.auth.store import ReloadingStore, new_store_document
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
    e = ei.value
    assert e.sqlstate == sqlstate, e.detail
    assert e.message == 'IAM authentication failed for user "admin"'      # the guide's text
    assert fragment in e.detail, e.detail
    assert e.severity == "FATAL"
    return e


def test_expired():
    expect(boto_token(expires=900), "28P01", "expired", now=T0.timestamp() + 901)
    assert verify(boto_token(expires=900), now=T0.timestamp() + 899)


def test_not_yet_valid():
    expect(boto_token(), "28P01", "not yet valid", now=T0.timestamp() - 3600)
    assert verify(boto_token(), now=T0.timestamp() - 60)       # small skew tolerated


def test_clock_skew_is_configurable():
    tok = boto_token()
    assert verify_token(tok, store(), HOSTS, now=T0.timestamp() - 250, clock_skew_s=300)
    with pytest.raises(PgError) as ei:
        verify_token(tok, store(), HOSTS, now=T0.timestamp() - 250, clock_skew_s=200)
    assert "more than 200 seconds in the future" in ei.value.detail


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
    e = expect(boto_token(), "28P01", "The AWS Access Key ID you provided does not exist in our records", st=other)
    assert AKID in e.hint


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


CLUSTER = "arn:aws:dsql:us-east-1:000000000000:cluster/abcdefghijklmnopqrstuvwxyz"
PRINCIPAL = "arn:aws:iam::000000000000:role/app"


def policy_store(*statements, expiration=None, session_token=None, principals=None):
    return CredentialStore.from_dict({
        "principals": principals if principals is not None else [{"arn": PRINCIPAL, "policies": ["p"]}],
        "policies": {"p": {"Version": "2012-10-17", "Statement": list(statements)}},
        "keys": [{"access_key_id": AKID, "secret_access_key": SECRET, "principal_arn": PRINCIPAL,
                  "session_token": session_token, "expiration": expiration}]})


def allow(action="dsql:DbConnect*", resource=CLUSTER, effect="Allow"):
    return {"Effect": effect, "Action": action, "Resource": resource}


def check(st, action="DbConnectAdmin", user="admin", resource=CLUSTER, now=None):
    ident = verify(boto_token(action=action), st=st, now=now)
    authorize(ident, user, st, resource, now=now if now is not None else T0.timestamp() + 10)
    return ident


def denied(st, fragment, **kw):
    with pytest.raises(PgError) as ei:
        check(st, **kw)
    assert ei.value.sqlstate == "28000" and ei.value.severity == "FATAL", ei.value.detail
    assert fragment in ei.value.detail, ei.value.detail
    return ei.value


def test_policy_allows_action_on_resource():
    assert check(policy_store(allow())).principal_arn == PRINCIPAL
    assert check(policy_store(allow("dsql:DbConnect")), action="DbConnect", user="app")
    assert check(policy_store(allow("dsql:*", "arn:aws:dsql:us-east-1:000000000000:cluster/*")))
    assert check(policy_store(allow(["DSQL:dbconnectadmin"], ["arn:aws:dsql:*:000000000000:cluster/abc?efghijklmnopqrstuvwxyz"])))


def test_wrong_action_is_denied_with_the_iam_text():
    e = denied(policy_store(allow("dsql:DbConnect")), "is not authorized to perform")
    assert e.detail == f"User: {PRINCIPAL} is not authorized to perform: dsql:DbConnectAdmin on resource: {CLUSTER}"
    assert e.message == 'IAM authentication failed for user "admin"'


def test_wrong_resource_is_denied():
    st = policy_store(allow(resource="arn:aws:dsql:us-east-1:000000000000:cluster/other"))
    denied(st, f"on resource: {CLUSTER}")
    denied(policy_store(allow(resource="arn:aws:dsql:eu-west-1:*")), "not authorized")


def test_explicit_deny_wins():
    st = policy_store(allow(), allow("dsql:DbConnectAdmin", "*", effect="Deny"))
    denied(st, "dsql:DbConnectAdmin")
    assert check(st, action="DbConnect", user="app")


def test_principal_without_policies_or_unknown_is_denied():
    denied(policy_store(allow(), principals=[{"arn": PRINCIPAL, "policies": []}]), "not authorized")
    denied(policy_store(allow(), principals=[]), "not authorized")


def test_role_needs_the_matching_action():
    st = policy_store(allow())
    denied(st, "requires a DbConnectAdmin", action="DbConnect", user="admin")
    denied(st, "require a DbConnect auth token", action="DbConnectAdmin", user="app_role")
    assert check(st, action="DbConnect", user="app_role")


def test_temporary_credentials_expire():
    exp = T0.timestamp() + 60
    st = policy_store(allow(), expiration="2026-11-26T14:01:00Z", session_token="sess")
    assert st.get(AKID).expiration == exp
    tok = boto_token(token="sess")
    assert verify(tok, st=st, now=exp - 1)
    with pytest.raises(PgError) as ei:
        verify(tok, st=st, now=exp + 1)
    assert ei.value.sqlstate == "28P01" and "security token included in the auth token is expired" in ei.value.detail


def test_reauthorization_sees_revocation():
    ident = check(policy_store(allow()))
    with pytest.raises(PgError) as ei:                           # the key was deleted
        authorize(ident, "admin", CredentialStore.from_dict({"keys": []}), CLUSTER)
    assert ei.value.sqlstate == "28000" and "no longer exists" in ei.value.detail
    with pytest.raises(PgError):                                 # the policy was revoked
        authorize(ident, "admin", policy_store(allow("dsql:DbConnect")), CLUSTER)
    authorize(ident, "admin", policy_store(allow()), CLUSTER)    # still fine


def test_bad_policy_documents_fail_to_load():
    for bad in ({"Effect": "Maybe", "Action": "*", "Resource": "*"},
                {"Effect": "Allow", "Action": [], "Resource": "*"},
                {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {}}):
        with pytest.raises(ValueError):
            policy_store(bad)
    with pytest.raises(ValueError):
        CredentialStore.from_dict({"principals": [{"arn": PRINCIPAL, "policies": ["missing"]}]})


def test_new_store_document_and_older_format():
    doc = new_store_document(PRINCIPAL)
    key = doc["keys"][0]
    st = CredentialStore.from_dict(json.loads(json.dumps(doc)))
    assert st.get(key["access_key_id"]).principal_arn == PRINCIPAL
    assert st.is_allowed(PRINCIPAL, "DbConnectAdmin", CLUSTER) and st.is_allowed(PRINCIPAL, "dsql:DbConnect", CLUSTER)
    assert not st.is_allowed(PRINCIPAL, "dsql:CreateCluster", CLUSTER)
    old = store(allow=["dsql:DbConnect"])                        # keys with an `allow` list: any cluster
    assert old.is_allowed("arn:aws:iam::000000000000:user/dsql-local", "DbConnect", CLUSTER)
    assert not old.is_allowed("arn:aws:iam::000000000000:user/dsql-local", "DbConnectAdmin", CLUSTER)


def test_store_load_and_reload(tmp_path):
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"keys": []}))
    rs = ReloadingStore(path, interval_s=0)
    assert rs.get(AKID) is None
    path.write_text(json.dumps({"keys": [{"access_key_id": AKID, "secret_access_key": SECRET,
                                          "principal_arn": "arn:x", "allow": ["dsql:DbConnect"]}]}))
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    cred = rs.get(AKID)
    assert cred is not None and rs.is_allowed("arn:x", "DbConnect", CLUSTER)
    assert not rs.is_allowed("arn:x", "DbConnectAdmin", CLUSTER)
    path.write_text("{not json")                 # a torn write keeps the previous contents
    os.utime(path, ns=(time.time_ns() + 2 * 10**9, time.time_ns() + 2 * 10**9))
    assert rs.get(AKID) is not None
    other = tmp_path / "c2.json"
    other.write_text(json.dumps({"keys": [{"access_key_id": "K", "secret_access_key": "S"}]}))
    loaded = CredentialStore.load(other)
    assert len(loaded) == 1 and loaded.is_allowed(loaded.get("K").principal_arn, "DbConnectAdmin", CLUSTER)

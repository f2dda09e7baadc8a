"""COMMENT ON: descriptions kept with the objects they describe, so DROP removes them, renames
keep them and the catalog watch carries them to every compute.

    table / column / index          Table.comment, Column.comment, Index.comment (pk: Table.pk_index_comment)
    CONSTRAINT c ON t               Table.pk_comment, Index.constraint_comment (UNIQUE), checks[i]["comment"]
    schema                          the schema document's "comment"
    sequence / domain / function    the object document's "comment" (a domain CHECK: checks[i]["comment"])
    role                            Role.comment (shared: pg_shdescription)
    database                        /dsql/catalog/databases/<db> (shared: pg_shdescription)

A COMMENT is DDL for the transaction rules (one per transaction, applied at COMMIT in a block). The
object is looked up first, then ownership is checked, with PostgreSQL 15's errors; NULL or '' removes
the comment. syscat/pg_catalog.py reads them back as pg_description / pg_shdescription rows.
"""

from __future__ import annotations

import dataclasses

from services.common import errors
from services.common.errors import PgError
from services.common.rolecatalog import ADMIN

from ..authcatalog import auth_of
from . import objects
from .bind import current_user, search_path, type_from_typename
from .parse import Statement
from .privileges import not_owner

_RELKIND_WORD = {"OBJECT_TABLE": "table", "OBJECT_INDEX": "index", "OBJECT_SEQUENCE": "sequence"}
_PLURAL = {"index": "indexes", "sequence": "sequences"}


def _names(obj) -> list[str]:
    return [x.sval for x in obj]


def _wrong_kind(message: str, detail: str | None = None) -> PgError:
    return PgError(message, sqlstate="42809", detail=detail)


def _require_owner(catalog, session, owner: str, kind: str, name: str) -> None:
    if not auth_of(catalog).has_privs_of_role(current_user(session), owner):
        raise not_owner(kind, name)


def find_relation(catalog, session, parts: list[str]):
    """('table', Table, None) / ('index', Table, Index or None for the primary key) /
    ('sequence', doc, None) for a relation name; 42P01 when there is none."""
    name = parts[-1]
    for sch in [parts[-2]] if len(parts) > 1 else search_path(session):
        t = catalog.get_table(sch, name)
        if t is not None:
            return "table", t, None
        for t in catalog.tables(sch):
            if t.pk_name == name:
                return "index", t, None
            ix = next((i for i in t.indexes if i.name == name), None)
            if ix is not None:
                return "index", t, ix
        seq = catalog.get_object("sequence", sch, name)
        if seq is not None:
            return "sequence", seq, None
    raise errors.UndefinedTable(f'relation "{".".join(parts)}" does not exist')


def _find_domain(catalog, session, tn) -> dict:
    names = _names(tn.names)
    dom = objects.find_object(catalog, session, "domain", names) if names[0] != "pg_catalog" else None
    if dom is not None:
        return dom
    try:
        type_from_typename(tn)
    except errors.UndefinedObject:
        raise PgError(f'type "{".".join(names)}" does not exist', sqlstate="42704") from None
    return None


def _type_label(catalog, session, dom: dict) -> str:
    """format_type_be: the domain's name, qualified when the search path does not find it."""
    seen = objects.find_object(catalog, session, "domain", [dom["name"]])
    return dom["name"] if seen is not None and seen["id"] == dom["id"] else f'{dom["schema"]}.{dom["name"]}'


def _find_function(catalog, session, owa) -> dict:
    parts = _names(owa.objname)
    schemas = [parts[-2]] if len(parts) > 1 else search_path(session)
    argtypes = None if owa.args_unspecified else [type_from_typename(a)[0] for a in owa.objargs or ()]
    cands = [f for f in catalog.objects("function") if f["name"] == parts[-1] and f["schema"] in schemas
             and (argtypes is None or [t for t, _ in f["arg_types"]] == argtypes)]
    if argtypes is None and len(cands) > 1:
        raise PgError(f'function name "{".".join(parts)}" is not unique', sqlstate="42725",
                      hint="Specify the argument list to select the function unambiguously.")
    if cands:
        return min(cands, key=lambda f: schemas.index(f["schema"]))
    if argtypes is None:
        raise errors.UndefinedFunction(f'could not find a function named "{".".join(parts)}"')
    from .syscat.typedata import format_type
    shown = ", ".join(format_type(t, -1, catalog) for t in argtypes)
    raise errors.UndefinedFunction(f"function {'.'.join(parts)}({shown}) does not exist")


def comment_on(catalog, st: Statement, session):
    from .ddl import DdlAction
    n = st.node
    kind = n.objtype.name
    text = n.comment or None          # NULL or '' removes the comment

    def apply(txn):
        if kind == "OBJECT_DATABASE" and n.object.sval != catalog.database:     # PostgreSQL only warns
            return "COMMENT", [PgError(f'database "{n.object.sval}" does not exist', sqlstate="3D000",
                                       severity="WARNING")], None
        _set_comment(catalog, session, kind, n.object, text)
        return "COMMENT", [], None
    return DdlAction("COMMENT", apply)


def _set_comment(catalog, session, kind: str, obj, text: str | None) -> None:
    if kind in _RELKIND_WORD:
        word = _RELKIND_WORD[kind]
        parts = _names(obj)
        found, target, ix = find_relation(catalog, session, parts)
        if found != word:
            raise _wrong_kind(f'"{parts[-1]}" is not a{"n" if word == "index" else ""} {word}')
        if word == "sequence":
            _require_owner(catalog, session, target.get("owner", "admin"), "sequence", target["name"])
            catalog.replace_object("sequence", {**target, "comment": text})
            return
        _require_owner(catalog, session, target.owner, word, parts[-1])
        if word == "table":
            changed = dataclasses.replace(target, comment=text)
        elif ix is None:
            changed = dataclasses.replace(target, pk_index_comment=text)
        else:
            changed = dataclasses.replace(target, indexes=[
                dataclasses.replace(i, comment=text) if i is ix else i for i in target.indexes])
        catalog.replace_table(changed)
    elif kind == "OBJECT_COLUMN":
        parts = _names(obj)
        if len(parts) < 2:
            raise errors.SyntaxError_("column name must be qualified")
        rel = parts[:-1]
        found, t, _ = find_relation(catalog, session, rel)
        if found != "table":
            raise _wrong_kind(f'cannot set comment on relation "{rel[-1]}"',
                              f"This operation is not supported for {_PLURAL[found]}.")
        col = t.column(parts[-1])
        if col is None:
            raise errors.UndefinedColumn(f'column "{parts[-1]}" of relation "{".".join(rel)}" does not exist')
        _require_owner(catalog, session, t.owner, "relation", t.name)
        catalog.replace_table(dataclasses.replace(t, columns=[
            dataclasses.replace(c, comment=text) if c is col else c for c in t.columns]))
    elif kind == "OBJECT_TABCONSTRAINT":
        parts = _names(obj)
        found, t, _ = find_relation(catalog, session, parts[:-1])
        if found != "table":
            raise _wrong_kind(f'"{parts[-2]}" is not a table')
        con = parts[-1]
        if t.pk_name == con:
            changed = dataclasses.replace(t, pk_comment=text)
        elif any(ix.constraint and ix.name == con for ix in t.indexes):
            changed = dataclasses.replace(t, indexes=[
                dataclasses.replace(ix, constraint_comment=text) if ix.constraint and ix.name == con else ix
                for ix in t.indexes])
        elif any(ck.get("name") == con and not ck.get("domain") for ck in t.checks):
            changed = dataclasses.replace(t, checks=[
                {**ck, "comment": text} if ck.get("name") == con and not ck.get("domain") else ck
                for ck in t.checks])
        else:
            raise errors.UndefinedObject(f'constraint "{con}" for table "{t.name}" does not exist')
        _require_owner(catalog, session, t.owner, "relation", t.name)
        catalog.replace_table(changed)
    elif kind == "OBJECT_SCHEMA":
        sch = catalog.get_schema(obj.sval)
        if sch is None:
            raise errors.InvalidSchemaName(f'schema "{obj.sval}" does not exist')
        _require_owner(catalog, session, sch.owner, "schema", sch.name)
        catalog.replace_schema(dataclasses.replace(sch, comment=text))
    elif kind in ("OBJECT_DOMAIN", "OBJECT_TYPE"):
        dom = _find_domain(catalog, session, obj)
        if dom is None:
            if kind == "OBJECT_TYPE":
                raise errors.FeatureNotSupported("COMMENT ON TYPE not supported",
                                                 hint="Aurora DSQL has no user-defined types but domains.")
            raise _wrong_kind(f'"{".".join(_names(obj.names))}" is not a domain')
        _require_owner(catalog, session, dom.get("owner", "admin"), "type", _type_label(catalog, session, dom))
        catalog.replace_object("domain", {**dom, "comment": text})
    elif kind == "OBJECT_DOMCONSTRAINT":
        tn, con = obj
        dom = _find_domain(catalog, session, tn)
        if dom is None:
            raise _wrong_kind(f'"{".".join(_names(tn.names))}" is not a domain')
        if not any(ck["name"] == con.sval for ck in dom["checks"]):
            raise errors.UndefinedObject(f'constraint "{con.sval}" for domain '
                                         f'{_type_label(catalog, session, dom)} does not exist')
        _require_owner(catalog, session, dom.get("owner", "admin"), "type", _type_label(catalog, session, dom))
        catalog.replace_object("domain", {**dom, "checks": [
            {**ck, "comment": text} if ck["name"] == con.sval else ck for ck in dom["checks"]]})
    elif kind == "OBJECT_FUNCTION":
        fn = _find_function(catalog, session, obj)
        _require_owner(catalog, session, fn.get("owner", "admin"), "function", ".".join(_names(obj.objname)))
        catalog.replace_object("function", {**fn, "comment": text})
    elif kind == "OBJECT_ROLE":
        auth = auth_of(catalog)
        role = auth.get_role(obj.sval)
        if role is None:
            raise PgError(f'role "{obj.sval}" does not exist', sqlstate="42704")
        me = auth.get_role(current_user(session))
        if me is None or not me.createrole:      # PostgreSQL 15: roles are "owned" by CREATEROLE holders
            raise PgError("must have CREATEROLE privilege", sqlstate="42501")
        if role.name == "admin":
            raise PgError("permission denied", sqlstate="42501", detail="The admin role cannot be modified.")
        auth.replace_roles([dataclasses.replace(role, comment=text)])
    elif kind == "OBJECT_DATABASE":
        _require_owner(catalog, session, ADMIN, "database", catalog.database)
        catalog.set_database_comment(text)
    else:
        raise errors.FeatureNotSupported(f"COMMENT ON {kind[7:]} not supported")

"""Writes services/compute/sql/syscat/pg_more_data.py from a PostgreSQL 15 server:

    python tools/gen_pg_more_data.py "host=... user=postgres" > services/compute/sql/syscat/pg_more_data.py
"""
import sys
import textwrap
import psycopg

QUERIES = {
    "TS_PARSER": "SELECT oid, prsname, prsstart::oid, prsstart, prstoken::oid, prstoken, prsend::oid, prsend, "
                 "prsheadline::oid, prsheadline, prslextype::oid, prslextype, "
                 "obj_description(oid, 'pg_ts_parser') FROM pg_ts_parser ORDER BY oid",
    "TS_TEMPLATE": "SELECT oid, tmplname, tmplinit::oid, tmplinit, tmpllexize::oid, tmpllexize, "
                   "obj_description(oid, 'pg_ts_template') FROM pg_ts_template ORDER BY oid",
    "TS_DICT": "SELECT oid, dictname, dicttemplate, coalesce(dictinitoption, ''), obj_description(oid, 'pg_ts_dict') "
               "FROM pg_ts_dict ORDER BY oid",
    "TS_CONFIG": "SELECT oid, cfgname, cfgparser, obj_description(oid, 'pg_ts_config') FROM pg_ts_config ORDER BY oid",
    "TS_CONFIG_MAP": "SELECT mapcfg, maptokentype, mapseqno, mapdict FROM pg_ts_config_map ORDER BY 1, 2, 3",
    "TIMEZONE_ABBREVS": "SELECT abbrev, extract(epoch from utc_offset)::int, is_dst FROM pg_timezone_abbrevs "
                        "ORDER BY abbrev",
    "SORT_OPERATORS": "SELECT t.oid, eq.oid, lt.oid FROM pg_type t "
                      "JOIN pg_operator eq ON eq.oprname = '=' AND eq.oprleft = t.oid AND eq.oprright = t.oid "
                      "JOIN pg_operator lt ON lt.oprname = '<' AND lt.oprleft = t.oid AND lt.oprright = t.oid "
                      "WHERE t.typnamespace = 11 AND t.typtype = 'b' AND t.typcategory <> 'A' ORDER BY t.oid",
}


def cell(v):
    return "t" if v is True else "f" if v is False else str(v)


with psycopg.connect(sys.argv[1]) as pg:
    out = ['"""Static contents of PostgreSQL 15\'s text search catalogs, timezone abbreviations and the',
           "equality/ordering operators ANALYZE uses, for syscat/pg_more.py. Generated from a fresh",
           "PostgreSQL 15 (initdb --locale=C, timezone UTC) by tools/gen_pg_more_data.py, one \"|\"-separated",
           "row a line, from these queries:", ""]
    for name, q in QUERIES.items():
        out += textwrap.wrap(f"{name}: {q}", 110, initial_indent="    ", subsequent_indent="        ")
    out.append('"""')
    for name, q in QUERIES.items():
        rows = pg.execute(q).fetchall()
        out.append("")
        out.append(f'{name} = """\\')
        out += ["|".join(cell(v) for v in r) for r in rows]
        out.append('"""')
    print("\n".join(out))

"""Column lists of the system catalogs and views we serve, as PostgreSQL 15 defines them.

Generated from a PostgreSQL 15 server (pg_attribute, attnum > 0, in attnum order; types by name, with
the types we do not have replaced: aclitem[] and anyarray by text[], pg_node_tree and inet by text, the
information_schema domains by their base types). Every view keeps all of PostgreSQL's columns so that
queries written for PostgreSQL bind; those we cannot fill are NULL.
"""

PG_CATALOG = {
    "pg_namespace": (
        "oid:oid,nspname:name,nspowner:oid,nspacl:text[]"),
    "pg_class": (
        "oid:oid,relname:name,relnamespace:oid,reltype:oid,reloftype:oid,relowner:oid,relam:oid,"
        "relfilenode:oid,reltablespace:oid,relpages:integer,reltuples:real,relallvisible:integer,"
        "reltoastrelid:oid,relhasindex:boolean,relisshared:boolean,relpersistence:char,relkind:char,"
        "relnatts:smallint,relchecks:smallint,relhasrules:boolean,relhastriggers:boolean,"
        "relhassubclass:boolean,relrowsecurity:boolean,relforcerowsecurity:boolean,"
        "relispopulated:boolean,relreplident:char,relispartition:boolean,relrewrite:oid,"
        "relfrozenxid:xid,relminmxid:xid,relacl:text[],reloptions:text[],relpartbound:text"),
    "pg_attribute": (
        "attrelid:oid,attname:name,atttypid:oid,attstattarget:integer,attlen:smallint,attnum:smallint,"
        "attndims:integer,attcacheoff:integer,atttypmod:integer,attbyval:boolean,attalign:char,"
        "attstorage:char,attcompression:char,attnotnull:boolean,atthasdef:boolean,"
        "atthasmissing:boolean,attidentity:char,attgenerated:char,attisdropped:boolean,"
        "attislocal:boolean,attinhcount:integer,attcollation:oid,attacl:text[],attoptions:text[],"
        "attfdwoptions:text[],attmissingval:text[]"),
    "pg_attrdef": (
        "oid:oid,adrelid:oid,adnum:smallint,adbin:text"),
    "pg_index": (
        "indexrelid:oid,indrelid:oid,indnatts:smallint,indnkeyatts:smallint,indisunique:boolean,"
        "indnullsnotdistinct:boolean,indisprimary:boolean,indisexclusion:boolean,indimmediate:boolean,"
        "indisclustered:boolean,indisvalid:boolean,indcheckxmin:boolean,indisready:boolean,"
        "indislive:boolean,indisreplident:boolean,indkey:int2vector,indcollation:oidvector,"
        "indclass:oidvector,indoption:int2vector,indexprs:text,indpred:text"),
    "pg_constraint": (
        "oid:oid,conname:name,connamespace:oid,contype:char,condeferrable:boolean,condeferred:boolean,"
        "convalidated:boolean,conrelid:oid,contypid:oid,conindid:oid,conparentid:oid,confrelid:oid,"
        "confupdtype:char,confdeltype:char,confmatchtype:char,conislocal:boolean,"
        "coninhcount:integer,connoinherit:boolean,conkey:smallint[],confkey:smallint[],conpfeqop:oid[],"
        "conppeqop:oid[],conffeqop:oid[],confdelsetcols:smallint[],conexclop:oid[],conbin:text"),
    "pg_type": (
        "oid:oid,typname:name,typnamespace:oid,typowner:oid,typlen:smallint,typbyval:boolean,"
        "typtype:char,typcategory:char,typispreferred:boolean,typisdefined:boolean,typdelim:char,"
        "typrelid:oid,typsubscript:regproc,typelem:oid,typarray:oid,typinput:regproc,typoutput:regproc,"
        "typreceive:regproc,typsend:regproc,typmodin:regproc,typmodout:regproc,typanalyze:regproc,"
        "typalign:char,typstorage:char,typnotnull:boolean,typbasetype:oid,typtypmod:integer,"
        "typndims:integer,typcollation:oid,typdefaultbin:text,typdefault:text,typacl:text[]"),
    "pg_tables": (
        "schemaname:name,tablename:name,tableowner:name,tablespace:name,hasindexes:boolean,hasrules:boolean,"
        "hastriggers:boolean,rowsecurity:boolean"),
    "pg_indexes": (
        "schemaname:name,tablename:name,indexname:name,tablespace:name,indexdef:text"),
    "pg_am": (
        "oid:oid,amname:name,amhandler:regproc,amtype:char"),
    "pg_roles": (
        "rolname:name,rolsuper:boolean,rolinherit:boolean,rolcreaterole:boolean,rolcreatedb:boolean,"
        "rolcanlogin:boolean,rolreplication:boolean,rolconnlimit:integer,rolpassword:text,"
        "rolvaliduntil:timestamp with time zone,rolbypassrls:boolean,rolconfig:text[],oid:oid"),
    "pg_user": (
        "usename:name,usesysid:oid,usecreatedb:boolean,usesuper:boolean,userepl:boolean,"
        "usebypassrls:boolean,passwd:text,valuntil:timestamp with time zone,useconfig:text[]"),
    "pg_auth_members": (
        "roleid:oid,member:oid,grantor:oid,admin_option:boolean"),
    "pg_database": (
        "oid:oid,datname:name,datdba:oid,encoding:integer,datlocprovider:char,datistemplate:boolean,"
        "datallowconn:boolean,datconnlimit:integer,datfrozenxid:xid,datminmxid:xid,dattablespace:oid,"
        "datcollate:text,datctype:text,daticulocale:text,datcollversion:text,datacl:text[]"),
    "pg_description": (
        "objoid:oid,classoid:oid,objsubid:integer,description:text"),
    "pg_depend": (
        "classid:oid,objid:oid,objsubid:integer,refclassid:oid,refobjid:oid,refobjsubid:integer,"
        "deptype:char"),
    "pg_collation": (
        "oid:oid,collname:name,collnamespace:oid,collowner:oid,collprovider:char,"
        "collisdeterministic:boolean,collencoding:integer,collcollate:text,collctype:text,"
        "colliculocale:text,collversion:text"),
    "pg_inherits": (
        "inhrelid:oid,inhparent:oid,inhseqno:integer,inhdetachpending:boolean"),
    "pg_policy": (
        "oid:oid,polname:name,polrelid:oid,polcmd:char,polpermissive:boolean,polroles:oid[],"
        "polqual:text,polwithcheck:text"),
    "pg_trigger": (
        "oid:oid,tgrelid:oid,tgparentid:oid,tgname:name,tgfoid:oid,tgtype:smallint,tgenabled:char,"
        "tgisinternal:boolean,tgconstrrelid:oid,tgconstrindid:oid,tgconstraint:oid,tgdeferrable:boolean,"
        "tginitdeferred:boolean,tgnargs:smallint,tgattr:int2vector,tgargs:bytea,tgqual:text,"
        "tgoldtable:name,tgnewtable:name"),
    "pg_statistic_ext": (
        "oid:oid,stxrelid:oid,stxname:name,stxnamespace:oid,stxowner:oid,stxstattarget:integer,"
        "stxkeys:int2vector,stxkind:char[],stxexprs:text"),
    "pg_publication": (
        "oid:oid,pubname:name,pubowner:oid,puballtables:boolean,pubinsert:boolean,pubupdate:boolean,"
        "pubdelete:boolean,pubtruncate:boolean,pubviaroot:boolean"),
    "pg_publication_namespace": (
        "oid:oid,pnpubid:oid,pnnspid:oid"),
    "pg_publication_rel": (
        "oid:oid,prpubid:oid,prrelid:oid,prqual:text,prattrs:int2vector"),
    "pg_proc": (
        "oid:oid,proname:name,pronamespace:oid,proowner:oid,prolang:oid,procost:real,prorows:real,"
        "provariadic:oid,prosupport:regproc,prokind:char,prosecdef:boolean,proleakproof:boolean,"
        "proisstrict:boolean,proretset:boolean,provolatile:char,proparallel:char,pronargs:smallint,"
        "pronargdefaults:smallint,prorettype:oid,proargtypes:oidvector,proallargtypes:oid[],"
        "proargmodes:char[],proargnames:text[],proargdefaults:text,protrftypes:oid[],prosrc:text,"
        "probin:text,prosqlbody:text,proconfig:text[],proacl:text[]"),
    "pg_settings": (
        "name:text,setting:text,unit:text,category:text,short_desc:text,extra_desc:text,context:text,"
        "vartype:text,source:text,min_val:text,max_val:text,enumvals:text[],boot_val:text,reset_val:text,"
        "sourcefile:text,sourceline:integer,pending_restart:boolean"),
    "pg_stats": (
        "schemaname:name,tablename:name,attname:name,inherited:boolean,null_frac:real,avg_width:integer,"
        "n_distinct:real,most_common_vals:text[],most_common_freqs:real[],histogram_bounds:text[],"
        "correlation:real,most_common_elems:text[],most_common_elem_freqs:real[],"
        "elem_count_histogram:real[]"),
    "pg_views": (
        "schemaname:name,viewname:name,viewowner:name,definition:text"),
    "pg_tablespace": (
        "oid:oid,spcname:name,spcowner:oid,spcacl:text[],spcoptions:text[]"),
    "pg_sequence": (
        "seqrelid:oid,seqtypid:oid,seqstart:bigint,seqincrement:bigint,seqmax:bigint,seqmin:bigint,"
        "seqcache:bigint,seqcycle:boolean"),
    "pg_shdescription": (
        "objoid:oid,classoid:oid,description:text"),
    "pg_language": (
        "oid:oid,lanname:name,lanowner:oid,lanispl:boolean,lanpltrusted:boolean,lanplcallfoid:oid,"
        "laninline:oid,lanvalidator:oid,lanacl:text[]"),
    "pg_extension": (
        "oid:oid,extname:name,extowner:oid,extnamespace:oid,extrelocatable:boolean,extversion:text,"
        "extconfig:oid[],extcondition:text[]"),
    "pg_rewrite": (
        "oid:oid,rulename:name,ev_class:oid,ev_type:char,ev_enabled:char,is_instead:boolean,"
        "ev_qual:text,ev_action:text"),
    "pg_enum": (
        "oid:oid,enumtypid:oid,enumsortorder:real,enumlabel:name"),
    "pg_range": (
        "rngtypid:oid,rngsubtype:oid,rngmultitypid:oid,rngcollation:oid,rngsubopc:oid,"
        "rngcanonical:regproc,rngsubdiff:regproc"),
    "pg_cast": (
        "oid:oid,castsource:oid,casttarget:oid,castfunc:oid,castcontext:char,castmethod:char"),
    "pg_operator": (
        "oid:oid,oprname:name,oprnamespace:oid,oprowner:oid,oprkind:char,oprcanmerge:boolean,"
        "oprcanhash:boolean,oprleft:oid,oprright:oid,oprresult:oid,oprcom:oid,oprnegate:oid,"
        "oprcode:regproc,oprrest:regproc,oprjoin:regproc"),
    "pg_matviews": (
        "schemaname:name,matviewname:name,matviewowner:name,tablespace:name,hasindexes:boolean,"
        "ispopulated:boolean,definition:text"),
    "pg_partitioned_table": (
        "partrelid:oid,partstrat:char,partnatts:smallint,partdefid:oid,partattrs:int2vector,"
        "partclass:oidvector,partcollation:oidvector,partexprs:text"),
    "pg_opclass": (
        "oid:oid,opcmethod:oid,opcname:name,opcnamespace:oid,opcowner:oid,opcfamily:oid,opcintype:oid,"
        "opcdefault:boolean,opckeytype:oid"),
    "pg_foreign_table": (
        "ftrelid:oid,ftserver:oid,ftoptions:text[]"),
    "pg_event_trigger": (
        "oid:oid,evtname:name,evtevent:name,evtowner:oid,evtfoid:oid,evtenabled:char,evttags:text[]"),
    "pg_init_privs": (
        "objoid:oid,classoid:oid,objsubid:integer,privtype:char,initprivs:text[]"),
    "pg_seclabel": (
        "objoid:oid,classoid:oid,objsubid:integer,provider:text,label:text"),
    "pg_sequences": (
        "schemaname:name,sequencename:name,sequenceowner:name,data_type:regtype,start_value:bigint,"
        "min_value:bigint,max_value:bigint,increment_by:bigint,cycle:boolean,cache_size:bigint,"
        "last_value:bigint"),
    "pg_user_mappings": (
        "umid:oid,srvid:oid,srvname:name,umuser:oid,usename:name,umoptions:text[]"),
    "pg_shadow": (
        "usename:name,usesysid:oid,usecreatedb:boolean,usesuper:boolean,userepl:boolean,"
        "usebypassrls:boolean,passwd:text,valuntil:timestamp with time zone,useconfig:text[]"),
    "pg_group": (
        "groname:name,grosysid:oid,grolist:oid[]"),
    "pg_db_role_setting": (
        "setdatabase:oid,setrole:oid,setconfig:text[]"),
    "pg_default_acl": (
        "oid:oid,defaclrole:oid,defaclnamespace:oid,defaclobjtype:char,defaclacl:text[]"),
    "pg_stat_activity": (
        "datid:oid,datname:name,pid:integer,leader_pid:integer,usesysid:oid,usename:name,"
        "application_name:text,client_addr:text,client_hostname:text,client_port:integer,"
        "backend_start:timestamp with time zone,xact_start:timestamp with time zone,"
        "query_start:timestamp with time zone,state_change:timestamp with time zone,wait_event_type:text,"
        "wait_event:text,state:text,backend_xid:xid,backend_xmin:xid,query_id:bigint,query:text,"
        "backend_type:text"),
    "pg_timezone_names": (
        "name:text,abbrev:text,utc_offset:interval,is_dst:boolean"),
}

INFORMATION_SCHEMA = {
    "schemata": (
        "catalog_name:name,schema_name:name,schema_owner:name,default_character_set_catalog:name,"
        "default_character_set_schema:name,default_character_set_name:name,sql_path:varchar"),
    "tables": (
        "table_catalog:name,table_schema:name,table_name:name,table_type:varchar,"
        "self_referencing_column_name:name,reference_generation:varchar,user_defined_type_catalog:name,"
        "user_defined_type_schema:name,user_defined_type_name:name,is_insertable_into:varchar,"
        "is_typed:varchar,commit_action:varchar"),
    "columns": (
        "table_catalog:name,table_schema:name,table_name:name,column_name:name,ordinal_position:int4,"
        "column_default:varchar,is_nullable:varchar,data_type:varchar,character_maximum_length:int4,"
        "character_octet_length:int4,numeric_precision:int4,numeric_precision_radix:int4,"
        "numeric_scale:int4,datetime_precision:int4,interval_type:varchar,interval_precision:int4,"
        "character_set_catalog:name,character_set_schema:name,character_set_name:name,"
        "collation_catalog:name,collation_schema:name,collation_name:name,domain_catalog:name,"
        "domain_schema:name,domain_name:name,udt_catalog:name,udt_schema:name,udt_name:name,"
        "scope_catalog:name,scope_schema:name,scope_name:name,maximum_cardinality:int4,"
        "dtd_identifier:name,is_self_referencing:varchar,is_identity:varchar,identity_generation:varchar,"
        "identity_start:varchar,identity_increment:varchar,identity_maximum:varchar,"
        "identity_minimum:varchar,identity_cycle:varchar,is_generated:varchar,"
        "generation_expression:varchar,is_updatable:varchar"),
    "table_constraints": (
        "constraint_catalog:name,constraint_schema:name,constraint_name:name,table_catalog:name,"
        "table_schema:name,table_name:name,constraint_type:varchar,is_deferrable:varchar,"
        "initially_deferred:varchar,enforced:varchar,nulls_distinct:varchar"),
    "key_column_usage": (
        "constraint_catalog:name,constraint_schema:name,constraint_name:name,table_catalog:name,"
        "table_schema:name,table_name:name,column_name:name,ordinal_position:int4,"
        "position_in_unique_constraint:int4"),
    "constraint_column_usage": (
        "table_catalog:name,table_schema:name,table_name:name,column_name:name,constraint_catalog:name,"
        "constraint_schema:name,constraint_name:name"),
    "referential_constraints": (
        "constraint_catalog:name,constraint_schema:name,constraint_name:name,"
        "unique_constraint_catalog:name,unique_constraint_schema:name,unique_constraint_name:name,"
        "match_option:varchar,update_rule:varchar,delete_rule:varchar"),
    "check_constraints": (
        "constraint_catalog:name,constraint_schema:name,constraint_name:name,check_clause:varchar"),
    "views": (
        "table_catalog:name,table_schema:name,table_name:name,view_definition:varchar,"
        "check_option:varchar,is_updatable:varchar,is_insertable_into:varchar,"
        "is_trigger_updatable:varchar,is_trigger_deletable:varchar,is_trigger_insertable_into:varchar"),
    "sequences": (
        "sequence_catalog:name,sequence_schema:name,sequence_name:name,data_type:varchar,"
        "numeric_precision:int4,numeric_precision_radix:int4,numeric_scale:int4,start_value:varchar,"
        "minimum_value:varchar,maximum_value:varchar,increment:varchar,cycle_option:varchar"),
    "routines": (
        "specific_catalog:name,specific_schema:name,specific_name:name,routine_catalog:name,"
        "routine_schema:name,routine_name:name,routine_type:varchar,module_catalog:name,"
        "module_schema:name,module_name:name,udt_catalog:name,udt_schema:name,udt_name:name,"
        "data_type:varchar,character_maximum_length:int4,character_octet_length:int4,"
        "character_set_catalog:name,character_set_schema:name,character_set_name:name,"
        "collation_catalog:name,collation_schema:name,collation_name:name,numeric_precision:int4,"
        "numeric_precision_radix:int4,numeric_scale:int4,datetime_precision:int4,interval_type:varchar,"
        "interval_precision:int4,type_udt_catalog:name,type_udt_schema:name,type_udt_name:name,"
        "scope_catalog:name,scope_schema:name,scope_name:name,maximum_cardinality:int4,"
        "dtd_identifier:name,routine_body:varchar,routine_definition:varchar,external_name:varchar,"
        "external_language:varchar,parameter_style:varchar,is_deterministic:varchar,"
        "sql_data_access:varchar,is_null_call:varchar,sql_path:varchar,schema_level_routine:varchar,"
        "max_dynamic_result_sets:int4,is_user_defined_cast:varchar,is_implicitly_invocable:varchar,"
        "security_type:varchar,to_sql_specific_catalog:name,to_sql_specific_schema:name,"
        "to_sql_specific_name:name,as_locator:varchar,created:timestamptz,last_altered:timestamptz,"
        "new_savepoint_level:varchar,is_udt_dependent:varchar,result_cast_from_data_type:varchar,"
        "result_cast_as_locator:varchar,result_cast_char_max_length:int4,"
        "result_cast_char_octet_length:int4,result_cast_char_set_catalog:name,"
        "result_cast_char_set_schema:name,result_cast_char_set_name:name,"
        "result_cast_collation_catalog:name,result_cast_collation_schema:name,"
        "result_cast_collation_name:name,result_cast_numeric_precision:int4,"
        "result_cast_numeric_precision_radix:int4,result_cast_numeric_scale:int4,"
        "result_cast_datetime_precision:int4,result_cast_interval_type:varchar,"
        "result_cast_interval_precision:int4,result_cast_type_udt_catalog:name,"
        "result_cast_type_udt_schema:name,result_cast_type_udt_name:name,result_cast_scope_catalog:name,"
        "result_cast_scope_schema:name,result_cast_scope_name:name,result_cast_maximum_cardinality:int4,"
        "result_cast_dtd_identifier:name"),
    "parameters": (
        "specific_catalog:name,specific_schema:name,specific_name:name,ordinal_position:int4,"
        "parameter_mode:varchar,is_result:varchar,as_locator:varchar,parameter_name:name,"
        "data_type:varchar,character_maximum_length:int4,character_octet_length:int4,"
        "character_set_catalog:name,character_set_schema:name,character_set_name:name,"
        "collation_catalog:name,collation_schema:name,collation_name:name,numeric_precision:int4,"
        "numeric_precision_radix:int4,numeric_scale:int4,datetime_precision:int4,interval_type:varchar,"
        "interval_precision:int4,udt_catalog:name,udt_schema:name,udt_name:name,scope_catalog:name,"
        "scope_schema:name,scope_name:name,maximum_cardinality:int4,dtd_identifier:name,"
        "parameter_default:varchar"),
    "domains": (
        "domain_catalog:name,domain_schema:name,domain_name:name,data_type:varchar,"
        "character_maximum_length:int4,character_octet_length:int4,character_set_catalog:name,"
        "character_set_schema:name,character_set_name:name,collation_catalog:name,collation_schema:name,"
        "collation_name:name,numeric_precision:int4,numeric_precision_radix:int4,numeric_scale:int4,"
        "datetime_precision:int4,interval_type:varchar,interval_precision:int4,domain_default:varchar,"
        "udt_catalog:name,udt_schema:name,udt_name:name,scope_catalog:name,scope_schema:name,"
        "scope_name:name,maximum_cardinality:int4,dtd_identifier:name"),
    "enabled_roles": (
        "role_name:name"),
    "applicable_roles": (
        "grantee:name,role_name:name,is_grantable:varchar"),
    "table_privileges": (
        "grantor:name,grantee:name,table_catalog:name,table_schema:name,table_name:name,"
        "privilege_type:varchar,is_grantable:varchar,with_hierarchy:varchar"),
    "administrable_role_authorizations": (
        "grantee:name,role_name:name,is_grantable:varchar"),
    "attributes": (
        "udt_catalog:name,udt_schema:name,udt_name:name,attribute_name:name,ordinal_position:int4,"
        "attribute_default:varchar,is_nullable:varchar,data_type:varchar,character_maximum_length:int4,"
        "character_octet_length:int4,character_set_catalog:name,character_set_schema:name,"
        "character_set_name:name,collation_catalog:name,collation_schema:name,collation_name:name,"
        "numeric_precision:int4,numeric_precision_radix:int4,numeric_scale:int4,datetime_precision:int4,"
        "interval_type:varchar,interval_precision:int4,attribute_udt_catalog:name,"
        "attribute_udt_schema:name,attribute_udt_name:name,scope_catalog:name,scope_schema:name,"
        "scope_name:name,maximum_cardinality:int4,dtd_identifier:name,"
        "is_derived_reference_attribute:varchar"),
    "character_sets": (
        "character_set_catalog:name,character_set_schema:name,character_set_name:name,"
        "character_repertoire:name,form_of_use:name,default_collate_catalog:name,"
        "default_collate_schema:name,default_collate_name:name"),
    "check_constraint_routine_usage": (
        "constraint_catalog:name,constraint_schema:name,constraint_name:name,specific_catalog:name,"
        "specific_schema:name,specific_name:name"),
    "collation_character_set_applicability": (
        "collation_catalog:name,collation_schema:name,collation_name:name,character_set_catalog:name,"
        "character_set_schema:name,character_set_name:name"),
    "collations": (
        "collation_catalog:name,collation_schema:name,collation_name:name,pad_attribute:varchar"),
    "column_column_usage": (
        "table_catalog:name,table_schema:name,table_name:name,column_name:name,dependent_column:name"),
    "column_domain_usage": (
        "domain_catalog:name,domain_schema:name,domain_name:name,table_catalog:name,table_schema:name,"
        "table_name:name,column_name:name"),
    "column_options": (
        "table_catalog:name,table_schema:name,table_name:name,column_name:name,option_name:name,"
        "option_value:varchar"),
    "column_privileges": (
        "grantor:name,grantee:name,table_catalog:name,table_schema:name,table_name:name,column_name:name,"
        "privilege_type:varchar,is_grantable:varchar"),
    "column_udt_usage": (
        "udt_catalog:name,udt_schema:name,udt_name:name,table_catalog:name,table_schema:name,"
        "table_name:name,column_name:name"),
    "constraint_table_usage": (
        "table_catalog:name,table_schema:name,table_name:name,constraint_catalog:name,"
        "constraint_schema:name,constraint_name:name"),
    "domain_constraints": (
        "constraint_catalog:name,constraint_schema:name,constraint_name:name,domain_catalog:name,"
        "domain_schema:name,domain_name:name,is_deferrable:varchar,initially_deferred:varchar"),
    "domain_udt_usage": (
        "udt_catalog:name,udt_schema:name,udt_name:name,domain_catalog:name,domain_schema:name,"
        "domain_name:name"),
    "element_types": (
        "object_catalog:name,object_schema:name,object_name:name,object_type:varchar,"
        "collection_type_identifier:name,data_type:varchar,character_maximum_length:int4,"
        "character_octet_length:int4,character_set_catalog:name,character_set_schema:name,"
        "character_set_name:name,collation_catalog:name,collation_schema:name,collation_name:name,"
        "numeric_precision:int4,numeric_precision_radix:int4,numeric_scale:int4,datetime_precision:int4,"
        "interval_type:varchar,interval_precision:int4,domain_default:varchar,udt_catalog:name,"
        "udt_schema:name,udt_name:name,scope_catalog:name,scope_schema:name,scope_name:name,"
        "maximum_cardinality:int4,dtd_identifier:name"),
    "foreign_data_wrapper_options": (
        "foreign_data_wrapper_catalog:name,foreign_data_wrapper_name:name,option_name:name,"
        "option_value:varchar"),
    "foreign_data_wrappers": (
        "foreign_data_wrapper_catalog:name,foreign_data_wrapper_name:name,authorization_identifier:name,"
        "library_name:varchar,foreign_data_wrapper_language:varchar"),
    "foreign_server_options": (
        "foreign_server_catalog:name,foreign_server_name:name,option_name:name,option_value:varchar"),
    "foreign_servers": (
        "foreign_server_catalog:name,foreign_server_name:name,foreign_data_wrapper_catalog:name,"
        "foreign_data_wrapper_name:name,foreign_server_type:varchar,foreign_server_version:varchar,"
        "authorization_identifier:name"),
    "foreign_table_options": (
        "foreign_table_catalog:name,foreign_table_schema:name,foreign_table_name:name,option_name:name,"
        "option_value:varchar"),
    "foreign_tables": (
        "foreign_table_catalog:name,foreign_table_schema:name,foreign_table_name:name,"
        "foreign_server_catalog:name,foreign_server_name:name"),
    "information_schema_catalog_name": (
        "catalog_name:name"),
    "role_column_grants": (
        "grantor:name,grantee:name,table_catalog:name,table_schema:name,table_name:name,column_name:name,"
        "privilege_type:varchar,is_grantable:varchar"),
    "usage_privileges": (
        "grantor:name,grantee:name,object_catalog:name,object_schema:name,object_name:name,"
        "object_type:varchar,privilege_type:varchar,is_grantable:varchar"),
    "role_usage_grants": (
        "grantor:name,grantee:name,object_catalog:name,object_schema:name,object_name:name,"
        "object_type:varchar,privilege_type:varchar,is_grantable:varchar"),
    "routine_privileges": (
        "grantor:name,grantee:name,specific_catalog:name,specific_schema:name,specific_name:name,"
        "routine_catalog:name,routine_schema:name,routine_name:name,privilege_type:varchar,is_grantable:varchar"),
    "role_routine_grants": (
        "grantor:name,grantee:name,specific_catalog:name,specific_schema:name,specific_name:name,"
        "routine_catalog:name,routine_schema:name,routine_name:name,privilege_type:varchar,is_grantable:varchar"),
    "role_table_grants": (
        "grantor:name,grantee:name,table_catalog:name,table_schema:name,table_name:name,"
        "privilege_type:varchar,is_grantable:varchar,with_hierarchy:varchar"),
    "routine_column_usage": (
        "specific_catalog:name,specific_schema:name,specific_name:name,routine_catalog:name,"
        "routine_schema:name,routine_name:name,table_catalog:name,table_schema:name,table_name:name,"
        "column_name:name"),
    "routine_routine_usage": (
        "specific_catalog:name,specific_schema:name,specific_name:name,routine_catalog:name,"
        "routine_schema:name,routine_name:name"),
    "routine_sequence_usage": (
        "specific_catalog:name,specific_schema:name,specific_name:name,routine_catalog:name,"
        "routine_schema:name,routine_name:name,sequence_catalog:name,sequence_schema:name,"
        "sequence_name:name"),
    "routine_table_usage": (
        "specific_catalog:name,specific_schema:name,specific_name:name,routine_catalog:name,"
        "routine_schema:name,routine_name:name,table_catalog:name,table_schema:name,table_name:name"),
    "transforms": (
        "udt_catalog:name,udt_schema:name,udt_name:name,specific_catalog:name,specific_schema:name,"
        "specific_name:name,group_name:name,transform_type:varchar"),
    "triggered_update_columns": (
        "trigger_catalog:name,trigger_schema:name,trigger_name:name,event_object_catalog:name,"
        "event_object_schema:name,event_object_table:name,event_object_column:name"),
    "triggers": (
        "trigger_catalog:name,trigger_schema:name,trigger_name:name,event_manipulation:varchar,"
        "event_object_catalog:name,event_object_schema:name,event_object_table:name,action_order:int4,"
        "action_condition:varchar,action_statement:varchar,action_orientation:varchar,"
        "action_timing:varchar,action_reference_old_table:name,action_reference_new_table:name,"
        "action_reference_old_row:name,action_reference_new_row:name,created:timestamptz"),
    "user_defined_types": (
        "user_defined_type_catalog:name,user_defined_type_schema:name,user_defined_type_name:name,"
        "user_defined_type_category:varchar,is_instantiable:varchar,is_final:varchar,"
        "ordering_form:varchar,ordering_category:varchar,ordering_routine_catalog:name,"
        "ordering_routine_schema:name,ordering_routine_name:name,reference_type:varchar,"
        "data_type:varchar,character_maximum_length:int4,character_octet_length:int4,"
        "character_set_catalog:name,character_set_schema:name,character_set_name:name,"
        "collation_catalog:name,collation_schema:name,collation_name:name,numeric_precision:int4,"
        "numeric_precision_radix:int4,numeric_scale:int4,datetime_precision:int4,interval_type:varchar,"
        "interval_precision:int4,source_dtd_identifier:name,ref_dtd_identifier:name"),
    "user_mapping_options": (
        "authorization_identifier:name,foreign_server_catalog:name,foreign_server_name:name,"
        "option_name:name,option_value:varchar"),
    "user_mappings": (
        "authorization_identifier:name,foreign_server_catalog:name,foreign_server_name:name"),
    "view_column_usage": (
        "view_catalog:name,view_schema:name,view_name:name,table_catalog:name,table_schema:name,"
        "table_name:name,column_name:name"),
    "view_routine_usage": (
        "table_catalog:name,table_schema:name,table_name:name,specific_catalog:name,specific_schema:name,"
        "specific_name:name"),
    "view_table_usage": (
        "view_catalog:name,view_schema:name,view_name:name,table_catalog:name,table_schema:name,"
        "table_name:name"),
}

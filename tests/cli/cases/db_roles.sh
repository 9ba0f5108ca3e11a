# "db roles" prints the SQL that sets up the work role of tenant transactions for the schema
# (valid SQL: it runs as is), and --apply sets it up through the library's open; a bad role name
# from the environment is refused before anything runs.
requires_db
run db roles
expect_status 0
expect_out "CREATE ROLE \"llmemory_app\" NOLOGIN NOSUPERUSER NOBYPASSRLS"
expect_out "GRANT USAGE ON SCHEMA \"$CLI_SCHEMA\" TO \"llmemory_app\""
run db roles --apply
expect_status 0
expect_out "work role ready"
run db roles --json
expect_status 0
expect_json
case $(json sql) in *"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA"*) ;;
*) fail "no table grants in the JSON sql" ;; esac
LLMEMORY_DB_ROLE='x"; DROP TABLE t; --' run db roles
expect_status 2
expect_err "invalid role name"
run db status --apply
expect_status 2
expect_err "--apply applies to \"db roles\" only"

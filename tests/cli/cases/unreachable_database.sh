# A database that cannot be reached exits 4 with the library's message.
run_raw --database-url "host=$CLI_TMP/nosocket port=1 dbname=x connect_timeout=2" search --owner a x
expect_status 4
expect_err "llmemory: "

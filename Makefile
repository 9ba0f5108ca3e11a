# llmemory: plain GNU Makefile. Targets: all (default), check, lint, format, clean, install, fuzz.
# Variants build out of tree: build/debug (default), build/asan (SAN=1), build/fuzz (FUZZ=1:
# clang-14 with libFuzzer, ASan and UBSan; `make fuzz` builds and runs it).
# V=1 shows full commands; WERROR=0 turns warnings back into warnings.

PREFIX     ?= /usr/local
PG_CONFIG  ?= /usr/lib/postgresql/15/bin/pg_config
WERROR     ?= 1
SAN        ?= 0
FUZZ       ?= 0
FUZZ_SECONDS ?= 60

ifeq ($(FUZZ),1)
# The libFuzzer build: every object carries coverage instrumentation and the sanitizers; the
# fuzzers link libFuzzer's own main (tests/fuzz/README.md).
VARIANT    := fuzz
CC         := clang-14
SANFLAGS   := -fsanitize=address,undefined
OPTFLAGS   := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
              -fno-omit-frame-pointer
LDSAN      := $(SANFLAGS)
else ifeq ($(SAN),1)
VARIANT    := asan
SANFLAGS   := -fsanitize=address,undefined
OPTFLAGS   := -O1 -g $(SANFLAGS) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDSAN      := $(SANFLAGS)
else
VARIANT    := debug
OPTFLAGS   := -O2 -g -D_FORTIFY_SOURCE=2
LDSAN      :=
endif

B          := build/$(VARIANT)
CC         ?= cc
PKGS_LIB   := libpq jansson libsodium libcurl
PKGS_CLI   := libxml-2.0 poppler-glib jansson libmicrohttpd libcrypto libcurl libsodium

WARN := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wold-style-definition -Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2 \
        -Wundef -Wvla -Wimplicit-fallthrough -Wnull-dereference -Wdouble-promotion \
        -Wjump-misses-init -Wlogical-op -Wduplicated-cond -Wduplicated-branches
ifeq ($(FUZZ),1)
WARN := $(filter-out -Wjump-misses-init -Wlogical-op -Wduplicated-cond -Wduplicated-branches,$(WARN))
else ifeq ($(WERROR),1)
WARN += -Werror
endif

BASEFLAGS := $(WARN) $(OPTFLAGS) -D_POSIX_C_SOURCE=200809L -fstack-protector-strong -fno-common \
             -MMD -MP
LIBCFLAGS := $(BASEFLAGS) -fPIC -fvisibility=hidden -Iinclude -Isrc/lib -Isrc/lib/core \
             -I$(B)/gen $(shell pkg-config --cflags $(PKGS_LIB))
LIBLIBS   := $(shell pkg-config --libs $(PKGS_LIB)) -lpthread -lm
# The CLI sees only the public headers and core helpers (STYLE.md section 1).
CLICFLAGS := $(BASEFLAGS) -Iinclude -Isrc/lib/core $(shell pkg-config --cflags $(PKGS_CLI))
CLILIBS   := $(shell pkg-config --libs $(PKGS_CLI))
# Fuzz targets call the parsers of every layer, the server's and the CLI's included.
FUZZCFLAGS:= $(BASEFLAGS) -Iinclude -Isrc/lib -Isrc/lib/core -Isrc/http -Isrc/mcp -Isrc/cli \
             -I$(B)/gen $(shell pkg-config --cflags $(PKGS_LIB) $(PKGS_CLI)) -Wno-missing-prototypes
TESTCFLAGS:= $(BASEFLAGS) -Iinclude -Isrc/lib -Isrc/lib/core -Itests/harness -I$(B)/gen \
             $(shell pkg-config --cflags $(PKGS_LIB)) -Wno-missing-prototypes

ifeq ($(V),1)
Q :=
else
Q := @
endif

LIB_SRC   := $(sort $(wildcard src/lib/*/*.c))
SQL_SRC   := $(sort $(wildcard src/lib/db/sql/*.sql))
CLI_SRC   := $(sort $(wildcard src/cli/*.c))
HTTP_SRC  := $(sort $(wildcard src/http/*.c))
MCP_SRC   := $(sort $(wildcard src/mcp/*.c))
UNIT_SRC  := $(sort $(wildcard tests/unit/*/*_test.c))
INTEG_SRC := $(sort $(wildcard tests/integration/*_test.c))
MCPT_SRC  := $(sort $(wildcard tests/mcp/*_test.c))
# One libFuzzer target per file of tests/fuzz (replay.c is the gcc replay driver).
FUZZ_NAMES:= $(filter-out replay,$(basename $(notdir $(wildcard tests/fuzz/*.c))))

LIB_OBJ   := $(patsubst %.c,$(B)/%.o,$(LIB_SRC)) $(B)/gen/migrations.o $(B)/gen/pgext_build_id.o $(B)/gen/models.o
PGEXT_SRC := $(wildcard pgext/Makefile pgext/build-id.sh pgext/*.c pgext/*.h pgext/*.sql pgext/*.control)
CLI_OBJ   := $(patsubst %.c,$(B)/%.o,$(CLI_SRC))
HTTP_OBJ  := $(patsubst %.c,$(B)/%.o,$(HTTP_SRC))
MCP_OBJ   := $(patsubst %.c,$(B)/%.o,$(MCP_SRC))
HARNESS   := $(B)/tests/harness/runner.o
UNIT_OBJ  := $(patsubst %.c,$(B)/%.o,$(UNIT_SRC))
INTEG_OBJ := $(patsubst %.c,$(B)/%.o,$(INTEG_SRC)) $(B)/tests/integration/support.o

MCPT_OBJ  := $(patsubst %.c,$(B)/%.o,$(MCPT_SRC))
FUZZ_REPLAY := $(patsubst %,$(B)/tests/fuzz/%-replay,$(FUZZ_NAMES))
FUZZ_BIN  := $(patsubst %,$(B)/tests/fuzz/%-fuzzer,$(FUZZ_NAMES))

LIBA      := $(B)/libllmemory.a
# The front ends' objects without the CLI's main: what fuzz targets and front-end tests link.
FRONTA    := $(B)/libllmemory-front.a
LIBSO     := $(B)/libllmemory.so
PROG      := $(B)/llmemory

.PHONY: all check check-build check-one lint format clean install pgext fuzz fuzz-build
.SECONDARY:

all: $(LIBA) $(LIBSO) $(PROG)

$(B)/gen/migrations.c: $(SQL_SRC) scripts/embed-sql.sh
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  GEN   $@")
	$(Q)sh scripts/embed-sql.sh $(SQL_SRC) > $@.tmp && mv $@.tmp $@

# The build id of the llmemory_bm25 extension of this tree: the library uses an installed
# extension only when it reports the same id (src/lib/search/bm25.c).
$(B)/gen/pgext_build_id.c: $(PGEXT_SRC)
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  GEN   $@")
	$(Q)printf '/* generated from pgext/build-id.sh */\nconst char lm__pgext_build_id[] = "%s";\n' \
	    "$$(sh pgext/build-id.sh)" > $@.tmp && mv $@.tmp $@

$(B)/gen/models.c: scripts/models.lock scripts/embed-models.sh
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  GEN   $@")
	$(Q)sh scripts/embed-models.sh scripts/models.lock > $@.tmp && mv $@.tmp $@

$(B)/gen/%.o: $(B)/gen/%.c
	$(if $(Q),@echo "  CC    $<")
	$(Q)$(CC) $(LIBCFLAGS) -Wno-overlength-strings -c $< -o $@

$(B)/src/lib/%.o: src/lib/%.c
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  CC    $<")
	$(Q)$(CC) $(LIBCFLAGS) -c $< -o $@

$(B)/src/cli/%.o: src/cli/%.c
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  CC    $<")
	$(Q)$(CC) $(CLICFLAGS) -c $< -o $@

# The HTTP server (`llmemory serve`) obeys the CLI's rule: public headers and core helpers only.
$(B)/src/http/%.o: src/http/%.c
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  CC    $<")
	$(Q)$(CC) $(CLICFLAGS) -c $< -o $@

# The MCP protocol logic both transports use (`llmemory mcp`, /mcp of `llmemory serve`): the
# same rule again.
$(B)/src/mcp/%.o: src/mcp/%.c
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  CC    $<")
	$(Q)$(CC) $(CLICFLAGS) -c $< -o $@

$(B)/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  CC    $<")
	$(Q)$(CC) $(FUZZCFLAGS) -c $< -o $@

$(B)/tests/mcp/%.o: tests/mcp/%.c
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  CC    $<")
	$(Q)$(CC) $(FUZZCFLAGS) -Itests/harness -c $< -o $@

$(B)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  CC    $<")
	$(Q)$(CC) $(TESTCFLAGS) -c $< -o $@

$(LIBA): $(LIB_OBJ)
	$(if $(Q),@echo "  AR    $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBSO): $(LIB_OBJ)
	$(if $(Q),@echo "  LD    $@")
	$(Q)$(CC) -shared -Wl,-soname,libllmemory.so.0 $(LDSAN) -o $@ $^ $(LIBLIBS)

$(PROG): $(CLI_OBJ) $(HTTP_OBJ) $(MCP_OBJ) $(LIBA)
	$(if $(Q),@echo "  LD    $@")
	$(Q)$(CC) $(LDSAN) -o $@ $(CLI_OBJ) $(HTTP_OBJ) $(MCP_OBJ) $(LIBA) $(LIBLIBS) $(CLILIBS)

$(FRONTA): $(filter-out $(B)/src/cli/main.o,$(CLI_OBJ)) $(HTTP_OBJ) $(MCP_OBJ)
	$(if $(Q),@echo "  AR    $@")
	$(Q)rm -f $@ && ar rcs $@ $^

# Each fuzz target with the replay driver (gcc builds: make check runs the corpora) ...
$(B)/tests/fuzz/%-replay: $(B)/tests/fuzz/%.o $(B)/tests/fuzz/replay.o $(FRONTA) $(LIBA)
	$(if $(Q),@echo "  LD    $@")
	$(Q)$(CC) $(LDSAN) -o $@ $< $(B)/tests/fuzz/replay.o $(FRONTA) $(LIBA) $(LIBLIBS) $(CLILIBS)

# ... and with libFuzzer (FUZZ=1 only).
$(B)/tests/fuzz/%-fuzzer: $(B)/tests/fuzz/%.o $(FRONTA) $(LIBA)
	$(if $(Q),@echo "  LD    $@")
	$(Q)$(CC) -fsanitize=fuzzer,address,undefined -o $@ $< $(FRONTA) $(LIBA) $(LIBLIBS) $(CLILIBS)

# src/mcp's protocol tests (tests/mcp/*_test.c), against the test database like integration.
$(B)/tests/mcp-unit-tests: $(HARNESS) $(MCPT_OBJ) $(B)/tests/integration/support.o $(FRONTA) $(LIBA)
	$(if $(Q),@echo "  LD    $@")
	$(Q)$(CC) $(LDSAN) -o $@ $(HARNESS) $(MCPT_OBJ) $(B)/tests/integration/support.o $(FRONTA) \
	    $(LIBA) $(LIBLIBS) $(CLILIBS)

$(B)/tests/unit-tests: $(HARNESS) $(UNIT_OBJ) $(LIBA)
	$(if $(Q),@echo "  LD    $@")
	$(Q)$(CC) $(LDSAN) -o $@ $(HARNESS) $(UNIT_OBJ) $(LIBA) $(LIBLIBS)

$(B)/tests/integration-tests: $(HARNESS) $(INTEG_OBJ) $(LIBA)
	$(if $(Q),@echo "  LD    $@")
	$(Q)$(CC) $(LDSAN) -o $@ $(HARNESS) $(INTEG_OBJ) $(LIBA) $(LIBLIBS)

$(B)/tests/header-test: tests/headers/header_test.c include/llmemory.h $(wildcard include/llmemory/*.h)
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  HDR   $<")
	$(Q)$(CC) -std=c99 -pedantic -Wall -Wextra -Werror -Iinclude -fsyntax-only $<
	$(Q)if command -v g++ >/dev/null; then g++ -x c++ -std=c++11 -Wall -Wextra -Werror -Iinclude -fsyntax-only $<; fi
	$(Q)touch $@

check-build: all $(B)/tests/unit-tests $(B)/tests/integration-tests $(B)/tests/header-test \
             $(FUZZ_REPLAY) $(if $(MCPT_SRC),$(B)/tests/mcp-unit-tests)

# Full suite: default build and ASan+UBSan build, against a throwaway PostgreSQL cluster.
# Dependencies are checked first (scripts/deps.sh is idempotent and quick when nothing is missing).
# Both builds use every core.
NPROC      := $(shell nproc 2>/dev/null || echo 1)
CHECK_JOBS := -j$(NPROC)
check:
	$(Q)bash scripts/deps.sh --test
	$(Q)$(MAKE) --no-print-directory $(CHECK_JOBS) check-build
	$(Q)$(MAKE) --no-print-directory $(CHECK_JOBS) SAN=1 check-build
	$(Q)sh tests/run.sh build/debug build/asan

# One variant only (faster while developing): make check-one [SAN=1]
check-one: check-build
	$(Q)sh tests/run.sh $(B)

# libFuzzer: build every target with clang-14 (build/fuzz) and run each for FUZZ_SECONDS; new
# inputs that reach new code are added to tests/fuzz/corpus/<target>/ (tests/fuzz/README.md).
fuzz:
	$(Q)bash scripts/deps.sh --fuzz
	$(Q)$(MAKE) --no-print-directory FUZZ=1 fuzz-build
	$(Q)sh tests/fuzz/fuzz.sh build/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_BIN)

pgext:
	$(Q)$(MAKE) -C pgext PG_CONFIG=$(PG_CONFIG)

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include/llmemory
	install -m 644 $(LIBA) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(LIBSO) $(DESTDIR)$(PREFIX)/lib/libllmemory.so.0
	ln -sf libllmemory.so.0 $(DESTDIR)$(PREFIX)/lib/libllmemory.so
	install -m 755 $(PROG) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 include/llmemory.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 include/llmemory/*.h $(DESTDIR)$(PREFIX)/include/llmemory/
	if [ -f pgext/Makefile ]; then $(MAKE) -C pgext install PG_CONFIG=$(PG_CONFIG); fi

# Needs the objects: the folder dependency check reads their symbols.
lint: all
	$(Q)sh scripts/lint.sh $(B)

format:
	clang-format -i $(LIB_SRC) $(CLI_SRC) $(HTTP_SRC) $(MCP_SRC) $(wildcard src/lib/*/*.h src/cli/*.h src/http/*.h src/mcp/*.h include/*.h include/llmemory/*.h)

clean:
	rm -rf build

-include $(shell find $(B) -name '*.d' 2>/dev/null)

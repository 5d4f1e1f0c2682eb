# punchcat — peer-to-peer netcat. See README.md.
#
# Sources are found by wildcard so a new module needs no edit here:
#   src/*.c            the program (src/main.c holds main(); the rest is libpunchcat.a)
#   tests/unit/test_*.c  one cmocka program per module, linked with libpunchcat.a and libsim.a
#   tests/sim/*.c        the network simulator (libsim.a); tests/sim/bench_*.c are programs
#   tests/tools/*.c      helper programs for the CLI tests and benchmarks (one per file)
#   tests/fuzz/fuzz_*.c  libFuzzer targets (clang only, `make fuzz`)

PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
DESTDIR  ?=
PKG_CONFIG ?= pkg-config
INSTALL  ?= install

BUILD    ?= build
# The program lands at ./punchcat for the normal build, inside $(BUILD) for the others.
BIN      ?= punchcat
SAN      ?=
FUZZ     ?=

VERSION  := 0.1.0

DEPS_CFLAGS := $(shell $(PKG_CONFIG) --cflags libevent libsodium 2>/dev/null)
DEPS_LIBS   := $(shell $(PKG_CONFIG) --libs libevent libsodium 2>/dev/null)
CMOCKA_CFLAGS := $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null)
CMOCKA_LIBS   := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
	-Wmissing-prototypes -Wwrite-strings -Wformat=2 -Wvla -Wundef \
	-Wimplicit-fallthrough -Wcast-qual -Wno-unused-parameter
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
HARDEN_LD := -pie -Wl,-z,relro,-z,now

CFLAGS   ?= -O2 -g
ifeq ($(SAN),1)
  CFLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
  HARDEN  := -fstack-protector-strong -fPIE
  LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(FUZZ),1)
  CC      := clang
  CFLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -DPUNCHCAT_FUZZ=1
  HARDEN  := -fPIE
  WARNINGS := -Wall -Wextra -Werror -Wno-unused-parameter
endif

ALL_CFLAGS = -std=gnu11 $(CFLAGS) $(WARNINGS) $(HARDEN) -MMD -MP -Isrc -Itests/sim \
	-DPUNCHCAT_VERSION='"$(VERSION)"' $(DEPS_CFLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(HARDEN_LD)
LIBS = $(DEPS_LIBS) -lm

LIB_SRC   := $(filter-out src/main.c,$(wildcard src/*.c))
SIM_SRC   := $(filter-out tests/sim/bench_%.c,$(wildcard tests/sim/*.c))
BENCH_SRC := $(wildcard tests/sim/bench_*.c)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
TOOL_SRC  := $(wildcard tests/tools/*.c)
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
SIM_OBJ   := $(SIM_SRC:%.c=$(BUILD)/%.o)
LIBPC     := $(BUILD)/libpunchcat.a
LIBSIM    := $(BUILD)/libsim.a
UNIT_BIN  := $(UNIT_SRC:%.c=$(BUILD)/%)
BENCH_BIN := $(BENCH_SRC:%.c=$(BUILD)/%)
TOOL_BIN  := $(TOOL_SRC:%.c=$(BUILD)/%)
FUZZ_BIN  := $(FUZZ_SRC:%.c=$(BUILD)/%)

.PHONY: all check test-bin asan install uninstall demo clean fuzz fuzz-build fuzz-long bench bench-sim \
	lint-man lint tools torture

all: $(BIN)

$(BIN): $(BUILD)/src/main.o $(LIBPC)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -c -o $@ $<

$(LIBPC): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

$(LIBSIM): $(SIM_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/tests/unit/test_%: $(BUILD)/tests/unit/test_%.o $(LIBSIM) $(LIBPC)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS)

$(BUILD)/tests/sim/bench_%: $(BUILD)/tests/sim/bench_%.o $(LIBSIM) $(LIBPC)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/tools/%: $(BUILD)/tests/tools/%.o $(LIBPC)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) -lutil

tools: $(TOOL_BIN)

test-bin: $(BIN) $(UNIT_BIN) $(TOOL_BIN) $(BENCH_BIN)

# Every suite; the last line is "N passed, M failed[, K skipped]".
check: test-bin
	@PUNCHCAT=$(abspath $(BIN)) BUILD=$(abspath $(BUILD)) tests/run-tests.sh

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer.
asan:
	$(MAKE) BUILD=build/asan BIN=build/asan/punchcat SAN=1 check

# libFuzzer targets: `make fuzz FUZZ_SECONDS=N` runs each for N seconds.
FUZZ_SECONDS ?= 10
$(BUILD)/tests/fuzz/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(LIBPC)
	$(CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

fuzz-build:
	@command -v clang >/dev/null || { echo "fuzz: clang is not installed" >&2; exit 1; }
	$(MAKE) BUILD=build/fuzz FUZZ=1 $(FUZZ_SRC:%.c=build/fuzz/%)

fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh build/fuzz

# Long fuzzing by CPU time: FUZZ_CPU_SECONDS per target (default 30 CPU-minutes), two at a time.
FUZZ_CPU_SECONDS ?= 1800
fuzz-long: fuzz-build
	@FUZZ_CPU_SECONDS=$(FUZZ_CPU_SECONDS) tests/fuzz/long.sh build/fuzz

# Nightly-size simulator torture (make check runs 1000 seeds): TORTURE_SEEDS=FIRST:COUNT.
TORTURE_SEEDS ?= 1:10000
torture: $(BUILD)/tests/unit/test_stream_torture
	TORTURE_SEEDS=$(TORTURE_SEEDS) $<

bench-sim: $(BENCH_BIN)
	@for b in $(BENCH_BIN); do $$b || exit 1; done

bench: all tools
	scripts/bench.sh

demo: all
	scripts/demo.sh

lint-man:
	mandoc -Tlint -W warning man/punchcat.1 man/punchcat-protocol.7

# Static analysis: cppcheck and clang-tidy (configuration in .clang-tidy), and the man pages.
lint: lint-man
	cppcheck --enable=warning,portability,performance --std=c11 --inline-suppr \
		--error-exitcode=1 -q -Isrc src/
	clang-tidy --quiet $(LIB_SRC) src/main.c -- -std=gnu11 -Isrc $(DEPS_CFLAGS) \
		-DPUNCHCAT_VERSION='"$(VERSION)"'

install: $(BIN)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	$(INSTALL) -m 755 $(BIN) $(DESTDIR)$(BINDIR)/punchcat
	$(INSTALL) -m 644 man/punchcat.1 $(DESTDIR)$(MANDIR)/man1/punchcat.1
	$(INSTALL) -m 644 man/punchcat-protocol.7 $(DESTDIR)$(MANDIR)/man7/punchcat-protocol.7

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/punchcat $(DESTDIR)$(MANDIR)/man1/punchcat.1 \
		$(DESTDIR)$(MANDIR)/man7/punchcat-protocol.7

clean:
	rm -rf build punchcat

-include $(shell find $(BUILD) \( -path '$(BUILD)/asan' -o -path '$(BUILD)/fuzz' \) -prune -o -name '*.d' -print 2>/dev/null)

# Keep object files of test programs between runs (they are intermediate for make).
.SECONDARY:

# Makefile for the mycelium PostgreSQL extension (PGXS)
#
#   make && make install         build and install into the server found by pg_config
#   make installcheck            pg_regress + isolation + TAP tests, each in a
#                                throwaway server with the extension preloaded
#   make COVERAGE=1 ...          build with gcov instrumentation
#   make WERROR=1 ...            fail on any compiler warning (as the tests do)
#
# The whole test suite (with pgTAP and coverage) is test/run-tests; see README.md.

EXTENSION = mycelium
# the version being built: the control file's default_version, written once
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(srcdir)/$(EXTENSION).control)

MODULE_big = mycelium
# the sources, in folders by subsystem (doc/internals.md, Layout)
SRC_DIRS = src $(patsubst %/,%,$(sort $(dir $(wildcard src/*/*.c))))
SRCS = $(filter-out src/json_schema/json_schema_posix_regex.c,$(sort $(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.c))))
OBJS = $(SRCS:.c=.o)

# the fresh install script is built from src/sql/*.sql; the upgrade
# scripts (mycelium--A--B.sql, one per release) are installed as they are
SQL_PARTS = $(sort $(wildcard src/sql/*.sql))
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
DATA = $(sort $(wildcard src/sql/update/$(EXTENSION)--*--*.sql))

PG_CPPFLAGS = $(addprefix -I$(srcdir)/,$(SRC_DIRS)) -DMC_EXTVERSION=\"$(EXTVERSION)\"
SHLIB_LINK = -ljansson
EXTRA_CLEAN = $(OBJS:.o=.gcda) $(OBJS:.o=.gcno) coverage coverage.info

# WERROR=1 (the test suite's build) turns every compiler warning into an error
ifdef WERROR
PG_CFLAGS += -Werror
endif

ifdef COVERAGE
PG_CFLAGS += --coverage -O0
SHLIB_LINK += --coverage
endif

# pg_regress: sql/*.sql against expected/*.out, in a temporary instance
REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --temp-instance=tmp_check --temp-config=$(srcdir)/test/mycelium.conf \
	--load-extension=mycelium

# isolationtester specs
ISOLATION = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=$(srcdir)/test/isolation --temp-instance=tmp_check_iso \
	--temp-config=$(srcdir)/test/mycelium.conf \
	--temp-config=$(srcdir)/test/isolation/isolation.conf --load-extension=mycelium

# TAP tests (PostgreSQL::Test::Cluster)
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

# No LLVM bitcode: it only serves JIT inlining, which these functions do not
# need, and it would make clang a build requirement.
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS)
	cat $^ > $@

# the library is built for one catalog version (src/catalog/version.c)
src/catalog/version.o: $(EXTENSION).control

# PGXS does not track header dependencies: rebuild every object when a
# header changes
$(OBJS): $(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.h))

# homeport - one Makefile for the daemon, the control tool, tests and fuzzers.
#   make            build build/homeportd, build/homeportctl and
#                   build/homeport-upnp-helper
#   make check      unit tests (plain and ASan+UBSan), golden config tests,
#                   fuzz smoke runs, integration tests on the namespace test bed
#   make install    PREFIX=/usr/local DESTDIR= (and make uninstall): programs,
#                   man pages, sample config, systemd unit + sysusers + tmpfiles,
#                   the SysV (or OpenRC) script where systemd does not run
#                   (build with the same PREFIX:
#                   homeportd finds its helper in $(PREFIX)/libexec/homeport)
#   WERROR=1        warnings are errors (CI)

PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
BINDIR     ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DOCDIR     ?= $(PREFIX)/share/doc/homeport
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
INITDIR    ?= $(SYSCONFDIR)/init.d
DESTDIR    ?=
# no: leave the service files to a package's own tools (contrib/debian/rules)
INSTALL_INIT ?= yes
# The init script besides the unit: none under systemd, else OpenRC's or SysV's.
INIT_SCRIPT ?= $(if $(wildcard /run/systemd/system),none,$(if $(wildcard /sbin/openrc-run),openrc,sysv))

CC      ?= cc
CLANG   ?= clang
PKG_CONFIG ?= pkg-config
PYTHON  ?= /usr/bin/python3
BUILD   ?= build

# The daemon; miniupnpc (for its headers' types only) and libseccomp are the
# UPnP helper's: it alone links them. libcurl is the HTTP helper's
# (src/http-helper/); the daemon uses its headers' error codes only.
PKGS := libcurl inih jansson nettle liburiparser
LINK_PKGS := $(filter-out libcurl,$(PKGS))
HELPER_PKGS := miniupnpc libseccomp

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wpointer-arith -Wstrict-prototypes \
	-Wmissing-prototypes -Wwrite-strings -Wundef -Wvla -Wimplicit-fallthrough \
	-Wcast-align -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN += -Werror
endif

CFLAGS   ?= -O2 -g
HP_CFLAGS := -std=gnu11 -D_GNU_SOURCE $(WARN) -Iinclude \
	$(shell $(PKG_CONFIG) --cflags $(PKGS) $(HELPER_PKGS)) \
	-DHP_HELPER_DIR='"$(LIBEXECDIR)/homeport"'
HP_LIBS   := $(shell $(PKG_CONFIG) --libs $(LINK_PKGS)) -lnatpmp
HELPER_LIBS := $(shell $(PKG_CONFIG) --libs $(HELPER_PKGS))
HTTP_HELPER_LIBS := $(shell $(PKG_CONFIG) --libs libcurl jansson libseccomp)

ifeq ($(SAN),1)
BUILD := $(BUILD)/san
HP_CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
HP_LDFLAGS += -fsanitize=address,undefined
else
HP_CFLAGS += -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection -fPIE
HP_LDFLAGS += -pie -Wl,-z,relro,-z,now
endif

CTL_SRCS    := src/homeportctl.c
# The helpers' common seccomp sandbox (libseccomp): linked into both.
SANDBOX_OBJS := $(patsubst src/sandbox/%.c,$(BUILD)/obj/sandbox/%.o,$(wildcard src/sandbox/*.c))
HELPER_SRCS := $(wildcard src/upnp-helper/*.c)
HELPER_OBJS := $(patsubst src/upnp-helper/%.c,$(BUILD)/obj/helper/%.o,$(HELPER_SRCS)) \
	$(SANDBOX_OBJS)
# The HTTP helper: its own files and the few daemon modules it shares.
HTTP_HELPER_OBJS := $(patsubst src/http-helper/%.c,$(BUILD)/obj/http-helper/%.o,\
	$(wildcard src/http-helper/*.c)) \
	$(addprefix $(BUILD)/obj/,ev.o log.o util.o http_wire.o) $(SANDBOX_OBJS)
DAEMON_SRCS := $(filter-out $(CTL_SRCS),$(wildcard src/*.c))
DAEMON_OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(DAEMON_SRCS))
LIB_OBJS    := $(filter-out $(BUILD)/obj/main.o,$(DAEMON_OBJS))
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_BINS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
TOOL_SRCS   := $(wildcard tests/tools/*.c)
TOOL_BINS   := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRCS))
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS   := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRCS))
FUZZ_OBJS   := $(patsubst src/%.c,build/fuzz/obj/%.o,$(filter-out src/main.c,$(DAEMON_SRCS))) \
	build/fuzz/obj/upnp-helper/soap.o

.PHONY: FORCE all clean check check-unit check-san check-config check-fuzz \
	check-integration check-integration-san fuzz install uninstall units deps deb
all: $(BUILD)/homeportd $(BUILD)/homeportctl $(BUILD)/homeport-upnp-helper \
	$(BUILD)/homeport-http-helper $(TOOL_BINS)

$(BUILD)/obj/%.o: src/%.c $(wildcard include/*.h) | $(BUILD)/obj
	$(CC) $(CPPFLAGS) $(CFLAGS) $(HP_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/obj/helper/%.o: src/upnp-helper/%.c $(wildcard include/*.h) | $(BUILD)/obj/helper
	$(CC) $(CPPFLAGS) $(CFLAGS) $(HP_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/obj/http-helper/%.o: src/http-helper/%.c $(wildcard include/*.h) | $(BUILD)/obj/http-helper
	$(CC) $(CPPFLAGS) $(CFLAGS) $(HP_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/obj/sandbox/%.o: src/sandbox/%.c $(wildcard include/*.h) | $(BUILD)/obj/sandbox
	$(CC) $(CPPFLAGS) $(CFLAGS) $(HP_CFLAGS) -MMD -MP -c -o $@ $<

# homeportd looks for its UPnP helper next to itself, else in
# $(LIBEXECDIR)/homeport as built: a new PREFIX or LIBEXECDIR rebuilds that.
$(BUILD)/obj/helper_proc.o: $(BUILD)/libexecdir
$(BUILD)/libexecdir: FORCE | $(BUILD)/obj
	@echo '$(LIBEXECDIR)' | cmp -s - $@ || echo '$(LIBEXECDIR)' > $@
FORCE:

# The process that parses the router's UPnP replies: miniupnpc and
# libseccomp, nothing of the daemon (homeportd execs it, see gw_upnp.c).
$(BUILD)/homeport-upnp-helper: $(HELPER_OBJS)
	$(CC) $(LDFLAGS) $(HP_LDFLAGS) -o $@ $^ $(HELPER_LIBS)

# The process that speaks HTTP(S): libcurl and libseccomp, run while
# requests are pending (homeportd execs it, see http.c).
$(BUILD)/homeport-http-helper: $(HTTP_HELPER_OBJS)
	$(CC) $(LDFLAGS) $(HP_LDFLAGS) -o $@ $^ $(HTTP_HELPER_LIBS)

$(BUILD)/homeportd: $(DAEMON_OBJS)
	$(CC) $(LDFLAGS) $(HP_LDFLAGS) -o $@ $^ $(HP_LIBS)

$(BUILD)/homeportctl: $(BUILD)/obj/homeportctl.o
	$(CC) $(LDFLAGS) $(HP_LDFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs jansson)

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS) | $(BUILD)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $(HP_CFLAGS) $(LDFLAGS) $(HP_LDFLAGS) -o $@ $< \
		$(LIB_OBJS) $(HP_LIBS) -lcmocka

# Test tools (tests/tools/): small drivers of single modules, for the
# integration tests and the benchmarks.
$(BUILD)/tools/%: tests/tools/%.c $(LIB_OBJS) | $(BUILD)/tools
	$(CC) $(CPPFLAGS) $(CFLAGS) $(HP_CFLAGS) $(LDFLAGS) $(HP_LDFLAGS) -o $@ $< \
		$(LIB_OBJS) $(HP_LIBS) $(HELPER_LIBS)

$(BUILD)/obj $(BUILD)/obj/helper $(BUILD)/obj/http-helper $(BUILD)/obj/sandbox $(BUILD)/tests $(BUILD)/tools build/fuzz/obj:
	mkdir -p $@

# Unit tests run from the tree root so they find tests/ data files.
check-unit: $(UNIT_BINS) $(BUILD)/homeport-http-helper
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

check-san:
	$(MAKE) SAN=1 check-unit all

check-config: all
	tests/config/run.sh $(BUILD)/homeportd
	tests/config/docs.sh $(BUILD)
	mandoc -Tlint -Wwarning man/*.5 man/*.8

# libFuzzer targets: built with clang, run briefly as a smoke test.
build/fuzz/obj/%.o: src/%.c $(wildcard include/*.h) | build/fuzz/obj
	@mkdir -p $(dir $@)
	$(CLANG) -std=gnu11 -D_GNU_SOURCE -g -O1 -Iinclude $(shell $(PKG_CONFIG) --cflags $(PKGS)) \
		-fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<
build/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJS)
	$(CLANG) -std=gnu11 -D_GNU_SOURCE -g -O1 -Iinclude $(shell $(PKG_CONFIG) --cflags $(PKGS)) \
		-fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_OBJS) $(HP_LIBS)
fuzz: $(FUZZ_BINS)
FUZZ_SECONDS ?= 10
check-fuzz: $(FUZZ_BINS)
	@set -e; for f in $(FUZZ_BINS); do n=$$(basename $$f); echo "== $$n"; \
		mkdir -p build/fuzz/corpus-$$n; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=build/fuzz/$$n- \
			build/fuzz/corpus-$$n $$(test -d tests/fuzz/corpus/$$n && echo tests/fuzz/corpus/$$n) \
			2>build/fuzz/$$n.log || { tail -40 build/fuzz/$$n.log; exit 1; }; \
		grep -E 'stat::number_of_executed_units' build/fuzz/$$n.log; done

# Integration tests start real peers in network namespaces (root only; they
# skip with a message otherwise). HOMEPORT_BUILD picks the binaries.
check-integration: all
	HOMEPORT_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -v tests/integration

# The daemon-level tests again on the ASan+UBSan build: any memory error or
# undefined behaviour aborts the daemon, which the tests then see.
SAN_INTEGRATION := test_daemon.py test_gateway.py test_pcp.py test_ddns.py test_hostile.py \
	test_rfc2136.py test_providers.py test_hooks.py test_clouddns.py test_ipsource.py \
	test_ipv6.py
check-integration-san:
	$(MAKE) SAN=1 all
	HOMEPORT_BUILD=$(abspath $(BUILD))/san $(PYTHON) -m pytest -q \
		$(addprefix tests/integration/,$(SAN_INTEGRATION))

check: all check-unit check-config check-san check-fuzz check-integration check-integration-san

# Debian 12 packages needed to build and to run every test.
deps:
	contrib/install-deps.sh

# Service files with this install's paths ($(BUILD)/units/), made afresh
# every time since they depend on the variables, not on file dates.
SUBST := sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
	-e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'
units:
	mkdir -p $(BUILD)/units
	$(SUBST) contrib/systemd/homeportd.service.in > $(BUILD)/units/homeportd.service
	$(SUBST) contrib/systemd/homeport-metrics.service.in > $(BUILD)/units/homeport-metrics.service
	sed -e 's|^DAEMON=.*|DAEMON=$(SBINDIR)/homeportd|' \
		-e 's|^DAEMON_ARGS=.*|DAEMON_ARGS="-c $(SYSCONFDIR)/homeport/homeport.conf"|' \
		contrib/sysvinit/homeportd.init > $(BUILD)/units/homeportd.init
	sed -e 's|^command=.*|command="$(SBINDIR)/homeportd"|' \
		-e 's|$${HOMEPORTD_ARGS}|-c $(SYSCONFDIR)/homeport/homeport.conf &|' \
		contrib/openrc/homeportd.openrc > $(BUILD)/units/homeportd.openrc
	sed -e 's|/etc/homeport/|$(SYSCONFDIR)/homeport/|g' etc/homeport.conf > $(BUILD)/units/homeport.conf

install: all units
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SYSCONFDIR)/homeport/conf.d \
		$(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(LIBEXECDIR)/homeport
	install -m 0755 $(BUILD)/homeportd $(DESTDIR)$(SBINDIR)/homeportd
	install -m 0755 $(BUILD)/homeport-upnp-helper \
		$(DESTDIR)$(LIBEXECDIR)/homeport/homeport-upnp-helper
	install -m 0755 $(BUILD)/homeport-http-helper \
		$(DESTDIR)$(LIBEXECDIR)/homeport/homeport-http-helper
	install -m 0755 $(BUILD)/homeportctl $(DESTDIR)$(BINDIR)/homeportctl
	install -m 0644 man/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 man/*.5 $(DESTDIR)$(MANDIR)/man5/
	[ -e $(DESTDIR)$(SYSCONFDIR)/homeport/homeport.conf ] || \
		install -m 0644 $(BUILD)/units/homeport.conf $(DESTDIR)$(SYSCONFDIR)/homeport/homeport.conf
	install -m 0644 etc/conf.d/* $(DESTDIR)$(DOCDIR)/examples/
ifeq ($(INSTALL_INIT),yes)
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	install -m 0644 $(BUILD)/units/homeportd.service $(BUILD)/units/homeport-metrics.service \
		contrib/systemd/homeport-metrics.timer $(DESTDIR)$(UNITDIR)/
	install -m 0644 contrib/systemd/homeport.sysusers $(DESTDIR)$(SYSUSERSDIR)/homeport.conf
	install -m 0644 contrib/systemd/homeport.tmpfiles $(DESTDIR)$(TMPFILESDIR)/homeport.conf
ifneq ($(INIT_SCRIPT),none)
	install -d $(DESTDIR)$(INITDIR)
	install -m 0755 $(BUILD)/units/homeportd.$(if $(filter openrc,$(INIT_SCRIPT)),openrc,init) \
		$(DESTDIR)$(INITDIR)/homeportd
endif
	@[ -n "$(DESTDIR)" ] || contrib/postinstall.sh "$(SYSUSERSDIR)/homeport.conf" \
		"$(TMPFILESDIR)/homeport.conf"
endif

uninstall:
	@[ -n "$(DESTDIR)" ] || [ ! -d /run/systemd/system ] || \
		systemctl disable --now homeportd.service homeport-metrics.timer 2>/dev/null || true
	rm -f $(DESTDIR)$(SBINDIR)/homeportd $(DESTDIR)$(BINDIR)/homeportctl
	rm -rf $(DESTDIR)$(LIBEXECDIR)/homeport
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(wildcard man/*.8))) \
		$(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(wildcard man/*.5)))
	rm -f $(DESTDIR)$(UNITDIR)/homeportd.service $(DESTDIR)$(UNITDIR)/homeport-metrics.service \
		$(DESTDIR)$(UNITDIR)/homeport-metrics.timer $(DESTDIR)$(SYSUSERSDIR)/homeport.conf \
		$(DESTDIR)$(TMPFILESDIR)/homeport.conf
	[ ! -f $(DESTDIR)$(INITDIR)/homeportd ] || ! grep -q homeportd $(DESTDIR)$(INITDIR)/homeportd || \
		rm -f $(DESTDIR)$(INITDIR)/homeportd
	rm -rf $(DESTDIR)$(DOCDIR)
	@[ -n "$(DESTDIR)" ] || [ ! -d /run/systemd/system ] || systemctl daemon-reload
	@echo "uninstall: kept $(SYSCONFDIR)/homeport (configuration), /var/lib/homeport (state)" \
		"and the homeport user"

# A Debian package from this tree (needs debhelper): build/deb/homeport_*.deb
deb:
	rm -rf build/deb && mkdir -p build/deb/src
	tar --exclude=./build --exclude=./.git -cf - . | tar -C build/deb/src -xf -
	cp -r contrib/debian build/deb/src/debian
	cd build/deb/src && dpkg-buildpackage -b -uc -us
	ls build/deb/*.deb

clean:
	rm -rf build

-include $(wildcard $(BUILD)/obj/*.d $(BUILD)/obj/helper/*.d $(BUILD)/obj/http-helper/*.d \
	$(BUILD)/obj/sandbox/*.d)

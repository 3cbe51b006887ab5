# Entry points for people and CI. Every target installs what it needs first
# (scripts/install-deps.sh is idempotent and quiet when nothing is missing).
#   make run        Release build, then a single-node qdrantd with storage in ./storage
#   make test       build with warnings as errors and run the whole suite through ctest, but
#                   the package tests;  make test-package  only those (builds the .deb files)
#   make test-asan  the suite under ASan+UBSan;  make test-tsan  under TSan
#   make bench      benchmarks (they print figures; they are never tests): healthz, then vectors
#                   against raw hnswlib (settings: see scripts/bench/vectors.sh)
#   make fuzz       libFuzzer targets (clang), FUZZ_SECONDS each; never part of make test
#   make chaos      the fault checker for CHAOS_SECONDS (default 300) on 3 local peers: kill -9,
#                   pauses and restarts under acknowledged writes; prints its figures (make test
#                   runs it for 20 s)
#   make package-deb  the qdrantd and qdctl .deb files in build/deb (debian/, debhelper)
#   make package-rpm  the same as RPMs in build/rpm/RPMS (packaging/rpm/qdrantd.spec, rpmbuild)

GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
JOBS ?= $(shell nproc)
CTEST_JOBS ?= 2

.PHONY: deps compat-deps build run test test-package test-asan test-tsan bench fuzz chaos clean package-deb package-rpm

deps:
	@bash scripts/install-deps.sh

# Qdrant's official JS clients (and the Node.js they need, from npm) for the compatibility tests.
compat-deps: deps
	cd tests/compat && npm ci --no-audit --no-fund --loglevel=error

build: deps
	cmake -S . -B build/release $(GENERATOR) -DCMAKE_BUILD_TYPE=Release -DQD_BUILD_TESTS=OFF
	cmake --build build/release -j $(JOBS)

run: build
	./build/release/qdrantd/qdrantd

define run_suite
	cmake -S . -B build/$(1) $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQD_WERROR=ON $(2)
	cmake --build build/$(1) -j $(JOBS)
	$(3) ctest --test-dir build/$(1) --output-on-failure -j $(CTEST_JOBS) $(4) $(CTEST_ARGS)
endef

# The package tests (label package) build the .deb files: a second compile of the daemon with
# Debian's hardening flags, which would about double the suite's time, so `make test` leaves
# them out and says so; `make test-package` runs them on the same build.
test: compat-deps
	$(call run_suite,test,,,-LE package)
	@echo "make test: the package tests (ctest -L package) were not run; make test-package runs them"

test-package: deps
	$(call run_suite,test,,QD_PACKAGE_JOBS=$(JOBS),-L package)

test-asan: compat-deps
	$(call run_suite,asan,-DQD_SANITIZE=address,,-LE package)

# Debian's gRPC and abseil are not TSan-instrumented: tests/tsan.supp hides reports from
# inside them (see the file), and the daemons the tests start inherit TSAN_OPTIONS. The unit
# tests (the replica pipeline, concurrent graph inserts and searches) run with TSan's lock-order
# checker; the daemon suites run without it: tracking the order of hnswlib's lock per node made
# a 1,000-point insert take 9.5 s instead of 0.9 s, and the suites' requests time out.
TSAN_SUPP = suppressions=$(CURDIR)/tests/tsan.supp
test-tsan: compat-deps
	$(call run_suite,tsan,-DQD_SANITIZE=thread,TSAN_OPTIONS="$(TSAN_SUPP)",-L unit)
	TSAN_OPTIONS="$(TSAN_SUPP) detect_deadlocks=0" ctest --test-dir build/tsan --output-on-failure -j $(CTEST_JOBS) -LE 'unit|package' $(CTEST_ARGS)

bench: build
	bash scripts/bench/healthz.sh
	bash scripts/bench/vectors.sh

# Each target runs FUZZ_SECONDS from the seeds in tests/fuzz/corpus/<target>; what it learns is
# kept in build/fuzz/corpus/<target>, crash reproducers land in build/fuzz/artifacts/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := request_json filter_match
fuzz:
	cmake -S tests/fuzz -B build/fuzz $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=/usr/bin/clang++
	cmake --build build/fuzz -j $(JOBS)
	mkdir -p build/fuzz/artifacts
	set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p build/fuzz/corpus/$$t; \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$(CURDIR)/tests/fuzz/ubsan.supp \
	  build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -dict=tests/fuzz/json.dict -artifact_prefix=build/fuzz/artifacts/$$t- \
	    build/fuzz/corpus/$$t tests/fuzz/corpus/$$t; \
	done

CHAOS_SECONDS ?= 300
chaos: deps
	cmake -S . -B build/test $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQD_WERROR=ON
	cmake --build build/test -j $(JOBS) --target qd_cluster_tests qdrantd qdctl
	QD_CHAOS_SECONDS=$(CHAOS_SECONDS) build/test/tests/qd_cluster_tests "[chaos]" --durations yes

# The .deb files land in build/deb (see packaging/build-deb.sh); DEB_BUILD_OPTIONS=nocheck
# skips building and running the unit tests in the package build.
DEB_BUILD_OPTIONS ?= parallel=$(JOBS)
package-deb: deps
	DEB_BUILD_OPTIONS="$(DEB_BUILD_OPTIONS)" bash packaging/build-deb.sh build/deb

# RPM_NOCHECK=1 skips %check (the unit tests).
package-rpm: deps
	bash packaging/build-rpm.sh build/rpm

clean:
	rm -rf build

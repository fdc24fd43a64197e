# SPDX-License-Identifier: BSD-3-Clause
# Thin wrapper over CMake/CTest: the two commands a newcomer runs.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_TSAN ?= build-tsan
# the concurrency-heavy part of the suite, run again under ThreadSanitizer:
# the engine's control path, the Python binding with a second thread, jcapd
# under concurrent requests while sessions start and stop, live multi-worker
TSAN_TESTS ?= unit.core|unit.afpacket|python\.|api\.|live\.
JOBS       ?= $(shell nproc)
CTEST_ARGS ?=
PREFIX     ?= /usr/local

.PHONY: all deps build demo test test-fast test-asan test-tsan bench install clean format-check

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: deps build
	@bash scripts/demo.sh $(BUILD)

# Everything through CTest: the optimised build, then the same suite under
# AddressSanitizer + UndefinedBehaviorSanitizer, then its concurrency-heavy
# part under ThreadSanitizer. Warnings are errors in all three.
test: deps build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) $(CTEST_ARGS)
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory test-tsan

test-fast: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) $(CTEST_ARGS)

test-asan:
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DPC_SANITIZE=address,undefined
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	ctest --test-dir $(BUILD_ASAN) --output-on-failure -j $(JOBS) $(CTEST_ARGS)

test-tsan:
	cmake -S . -B $(BUILD_TSAN) -DCMAKE_BUILD_TYPE=Debug -DPC_SANITIZE=thread
	cmake --build $(BUILD_TSAN) -j $(JOBS)
	ctest --test-dir $(BUILD_TSAN) --output-on-failure -j $(JOBS) -R '$(TSAN_TESTS)' $(CTEST_ARGS)

bench: build
	bash bench/bench_offline.sh $(BUILD)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

format-check:
	@bash scripts/format-check.sh

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN)

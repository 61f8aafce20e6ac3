# The two commands a newcomer needs: `make demo` and `make test` (both set up and build first).
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: setup configure build test demo bench test-asan fuzz stress clean

setup:
	@scripts/setup

configure: setup
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

demo: build
	@scripts/demo $(BUILD)

bench: build
	@scripts/bench $(BUILD)

test-asan:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DCOUTURE_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo"

fuzz: build
	@scripts/fuzz $(BUILD)

stress: build
	@scripts/stress $(BUILD)

clean:
	rm -rf $(BUILD)

// Reference vectors from ../shared/testdata (made with the original implementations). Where they are absent a golden
// test skips, saying so; in a build configured with -DCOUTURE_REQUIRE_GOLDEN=ON (what .ci/run does when
// ../shared/testdata exists) it fails instead, so that losing the vectors cannot leave CI green.
#pragma once
#include <gtest/gtest.h>

#ifndef COUTURE_REQUIRE_GOLDEN
#define COUTURE_REQUIRE_GOLDEN 0
#endif

// In a test body or SetUp(): skip (or fail) and return when `present` is false; `message` says what is missing.
#define COUTURE_NEED_REFERENCE(present, message)                                             \
  do {                                                                                      \
    if (!(present)) {                                                                       \
      if (COUTURE_REQUIRE_GOLDEN) FAIL() << message << " (required: COUTURE_REQUIRE_GOLDEN)"; \
      GTEST_SKIP() << message;                                                              \
    }                                                                                       \
  } while (0)

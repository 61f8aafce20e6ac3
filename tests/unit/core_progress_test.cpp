// Long jobs show progress: without a terminal, plain lines with the count, rate and elapsed time.
#include "core/progress.h"

#include <gtest/gtest.h>

namespace {

TEST(Progress, PlainLinesWhenNotATerminal) {
  ::testing::internal::CaptureStderr();
  {
    couture::Progress p("encoding", 10, "img");
    p.advance(4);
    p.set_note("loss 0.5");
    p.advance(6);
  }
  std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find("encoding 100% 10/10"), std::string::npos) << out;
  EXPECT_NE(out.find("img/s"), std::string::npos) << out;
  EXPECT_NE(out.find("loss 0.5"), std::string::npos) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos) << "no carriage returns in logs";
}

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(couture::Progress::format_duration(65), "1:05");
  EXPECT_EQ(couture::Progress::format_duration(3725), "1:02:05");
  EXPECT_EQ(couture::Progress::format_duration(-1), "?");
}

}  // namespace

// Base64 as images arrive in JSON requests: RFC 4648's test vectors, a browser's data: URL, and every malformed
// text refused rather than half-decoded.
#include <gtest/gtest.h>

#include "core/base64.h"

namespace couture {
namespace {

TEST(CoreBase64, TheRfcVectorsBothWaysAndDataUrls) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},         {"Zg==", "f"},       {"Zm8=", "fo"},
                                                         {"Zm9v", "foo"},  {"Zm9vYg==", "foob"}, {"Zm9vYmE=", "fooba"},
                                                         {"Zm9vYmFy", "foobar"}};
  for (const auto& [text, bytes] : vectors) {
    auto out = base64_decode(text);
    ASSERT_TRUE(out.has_value()) << text;
    EXPECT_EQ(*out, bytes) << text;
  }
  EXPECT_EQ(base64_decode("data:image/png;base64,Zm9vYmFy").value_or("?"), "foobar");
  EXPECT_EQ(base64_decode("/+8=").value_or("?"), std::string("\xff\xef"));
  for (const auto& [text, bytes] : vectors) EXPECT_EQ(base64_encode(bytes), text);
  std::string all;
  for (int i = 0; i < 256; ++i) all += char(i);
  EXPECT_EQ(base64_decode(base64_encode(all)).value_or("?"), all);
}

TEST(CoreBase64, RefusesWhatIsNotBase64) {
  for (const char* text : {"Zg=", "Zm9", "Zm9v YmFy", "Zm9v\nYmFy", "Zg==Zm9v", "=Zg=", "Zm-v", "Z===",
                           "data:image/png,Zm9v", "data:image/png;base64", "\xea\xb0\x80\xea\xb0\x80"})
    EXPECT_FALSE(base64_decode(text).has_value()) << text;
}

}  // namespace
}  // namespace couture

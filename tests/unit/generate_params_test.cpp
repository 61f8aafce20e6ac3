// Request validation: every bad field of a generation request is refused with a message that names it, and
// good requests keep every setting.
#include <gtest/gtest.h>

#include "core/base64.h"
#include "generate/generate_params.h"
#include "io/image.h"

namespace couture {
namespace {

using json = nlohmann::json;

// The field a bad request is refused for, and the message (which must name the field too).
std::pair<std::string, std::string> refusal(const json& request) {
  try {
    GenerateParams::from_json(request);
  } catch (const FieldError& e) {
    return {e.field(), e.what()};
  }
  return {"(accepted)", ""};
}

std::string hangul(int chars) {
  std::string s;
  for (int i = 0; i < chars; ++i) s += "가";
  return s;
}

TEST(GenerateParams, KeepsEverySettingAndRoundTrips) {
  json request = {{"prompt", "상의에서 색상은 레드이다."}, {"n", 8},          {"top", 2},
                  {"seed", 18446744073709551615ull},        {"temperature", 0.7}, {"top_k", 64},
                  {"top_p", 0.9},                          {"cond_scale", 3.0}, {"init_codes", {1, 2, 3, 4}},
                  {"num_init_codes", 2},                   {"attribute_weight", 1.5},
                  {"prompt_as", "understood"}};
  auto p = GenerateParams::from_json(request);
  EXPECT_EQ(p.prompt, "상의에서 색상은 레드이다.");
  EXPECT_EQ(p.n, 8);
  EXPECT_EQ(p.top, 2);
  EXPECT_EQ(p.seed, 18446744073709551615ull);
  EXPECT_DOUBLE_EQ(p.temperature, 0.7);
  EXPECT_EQ(p.top_k, 64);
  EXPECT_DOUBLE_EQ(p.top_p, 0.9);
  EXPECT_DOUBLE_EQ(p.cond_scale, 3.0);
  EXPECT_DOUBLE_EQ(p.attribute_weight, 1.5);
  EXPECT_EQ(p.prompt_as, "understood");
  EXPECT_EQ(p.init_codes, (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(p.num_init_codes, 2);
  EXPECT_EQ(GenerateParams::from_json(p.to_json()).to_json(), p.to_json());
  auto settings = p.settings_json();
  EXPECT_FALSE(settings.contains("prompt"));
  EXPECT_EQ(settings["init_codes_given"], 4);
  EXPECT_EQ(settings["attribute_weight"], 1.5);  // in every PNG and reply: how the kept ones were chosen
  EXPECT_EQ(settings["prompt_as"], "understood");
  EXPECT_FALSE(GenerateParams::from_json({{"prompt", "티셔츠"}}).settings_json().contains("prompt_as"));  // typed
}

TEST(GenerateParams, DefaultsFillAbsentFields) {
  auto p = GenerateParams::from_json({{"prompt", "하의에서 카테고리는 팬츠이다."}});
  GenerateParams d;
  EXPECT_EQ(p.n, d.n);
  EXPECT_EQ(p.top, d.top);
  EXPECT_EQ(p.seed, d.seed);
  EXPECT_EQ(p.prompt_as, "typed");
  EXPECT_TRUE(p.init_codes.empty());
}

TEST(GenerateParams, PromptLimitCountsCharactersNotBytes) {
  EXPECT_EQ(refusal({{"prompt", hangul(kMaxPromptChars)}}).first, "(accepted)");  // 600 bytes
  auto [field, message] = refusal({{"prompt", hangul(kMaxPromptChars + 1)}});
  EXPECT_EQ(field, "prompt");
  EXPECT_NE(message.find("201 characters"), std::string::npos) << message;
  EXPECT_NE(message.find("200"), std::string::npos) << message;
  EXPECT_EQ(refusal({{"prompt", std::string(10000, 'a')}}).first, "prompt");
}

TEST(GenerateParams, RefusesBadPrompts) {
  EXPECT_EQ(refusal({{"prompt", ""}}).first, "prompt");
  EXPECT_EQ(refusal({{"prompt", "  \n\t "}}).first, "prompt");
  EXPECT_EQ(refusal({{"n", 4}}).first, "prompt");  // absent: empty
  EXPECT_EQ(refusal({{"prompt", 5}}).first, "prompt");
  EXPECT_EQ(refusal({{"prompt", json::array({"a"})}}).first, "prompt");
  auto [field, message] = refusal({{"prompt", std::string("상의\x01")}});
  EXPECT_EQ(field, "prompt");
  EXPECT_NE(message.find("U+0001"), std::string::npos) << message;
  // Invalid UTF-8 can reach from_json from a caller that built the JSON itself.
  auto invalid = refusal({{"prompt", std::string("\xff\xfe 상의")}});
  EXPECT_EQ(invalid.first, "prompt");
  EXPECT_NE(invalid.second.find("UTF-8"), std::string::npos) << invalid.second;
  EXPECT_EQ(refusal({{"prompt", std::string("\xed\xa0\x80")}}).first, "prompt");  // a surrogate
}

TEST(GenerateParams, RefusesWrongTypesAndRangesNamingTheField) {
  const json ok = {{"prompt", "상의에서 색상은 레드이다."}};
  struct Case {
    const char* field;
    json value;
  };
  const Case cases[] = {
      {"n", "4"},          {"n", 4.5},          {"n", 0},           {"n", -1},
      {"n", 65},           {"n", 1e20},         {"n", 18446744073709551615ull},
      {"n", nullptr},      {"n", true},         {"top", 0},         {"top", json::object()},
      {"seed", -1},        {"seed", 1.5},       {"seed", "7"},      {"seed", 1e30},
      {"temperature", 0},  {"temperature", -1}, {"temperature", 11}, {"temperature", "hot"},
      {"top_k", -1},       {"top_k", 1 << 21},  {"top_p", 0},       {"top_p", 1.5},
      {"cond_scale", -1},  {"cond_scale", 1e9}, {"attribute_weight", -0.5}, {"attribute_weight", 11},
      {"attribute_weight", "high"},             {"init_codes", "../x"}, {"init_codes", json::array({-3})},
      {"init_codes", json::array({"1"})},       {"num_init_codes", 3},
      {"prompt_as", "parsed"},                  {"prompt_as", 1},
  };
  for (const auto& c : cases) {
    json request = ok;
    request[c.field] = c.value;
    auto [field, message] = refusal(request);
    EXPECT_EQ(field.substr(0, std::string(c.field).size()), c.field) << c.field << " = " << c.value.dump();
    EXPECT_NE(message.find(c.field), std::string::npos) << message;
  }
  json too_many = ok;
  too_many["n"] = 2;
  too_many["top"] = 3;
  EXPECT_EQ(refusal(too_many).first, "top");
  json long_codes = ok;
  long_codes["init_codes"] = std::vector<int>(kMaxInitCodes + 1, 1);
  EXPECT_EQ(refusal(long_codes).first, "init_codes");
}

// A picture of one's own to vary arrives as base64 (or a data: URL); its size goes into the settings, never its
// bytes; what is not an image, too large an image, or an image beside init_codes is refused naming init_image.
TEST(GenerateParams, InitImageIsDecodedAndChecked) {
  Image picture = make_image(30, 20, 3, 200);
  picture.at(3, 4)[0] = 10;
  const std::string png = encode_png(picture);
  for (const std::string& text : {base64_encode(png), "data:image/png;base64," + base64_encode(png)}) {
    auto p = GenerateParams::from_json({{"prompt", "셔츠"}, {"init_image", text}, {"num_init_codes", 24}});
    ASSERT_TRUE(p.init_image);
    EXPECT_EQ(p.init_image->width, 30);
    EXPECT_EQ(p.init_image->height, 20);
    EXPECT_EQ(p.init_image->at(3, 4)[0], 10);
    EXPECT_EQ(p.settings_json()["init_image_given"], "30x20");
    EXPECT_EQ(p.settings_json()["num_init_codes"], 24);
    EXPECT_FALSE(p.to_json().contains("init_image_given"));
    EXPECT_FALSE(p.to_json().contains("init_image"));
  }
  const std::string too_wide = base64_encode(encode_png(make_image(kMaxInitImageSide + 1, 1, 3)));
  const json bad[] = {json(3), json("not base64!"), json(base64_encode("hello, not an image")), json(too_wide)};
  for (const auto& value : bad) {
    auto [field, message] = refusal({{"prompt", "셔츠"}, {"init_image", value}});
    EXPECT_EQ(field, "init_image") << value.dump().substr(0, 80);
    EXPECT_NE(message.find("init_image"), std::string::npos) << message;
  }
  EXPECT_NE(refusal({{"prompt", "셔츠"}, {"init_image", too_wide}}).second.find("exceeds the limit (2048"),
            std::string::npos);
  auto [field, message] = refusal({{"prompt", "셔츠"}, {"init_image", base64_encode(png)}, {"init_codes", {1, 2}}});
  EXPECT_EQ(field, "init_image");
  EXPECT_NE(message.find("not both"), std::string::npos) << message;
}

// A negative prompt is a caption too (same length and character rules), goes into the settings, and needs
// guidance once the bundle's defaults are in; before they are, that check waits.
TEST(GenerateParams, NegativePromptSteersGuidance) {
  auto p = GenerateParams::from_json({{"prompt", "줄무늬 셔츠"}, {"negative_prompt", "체크 셔츠"}, {"cond_scale", 2.0}});
  EXPECT_EQ(p.negative_prompt, "체크 셔츠");
  EXPECT_EQ(p.settings_json()["negative_prompt"], "체크 셔츠");
  EXPECT_FALSE(GenerateParams::from_json({{"prompt", "셔츠"}}).settings_json().contains("negative_prompt"));
  EXPECT_EQ(refusal({{"prompt", "셔츠"}, {"negative_prompt", 3}, {"cond_scale", 2.0}}).first, "negative_prompt");
  EXPECT_EQ(refusal({{"prompt", "셔츠"}, {"negative_prompt", std::string(201, 'a')}, {"cond_scale", 2.0}}).first,
            "negative_prompt");
  EXPECT_EQ(refusal({{"prompt", "셔츠"}, {"negative_prompt", "a\u0007"}, {"cond_scale", 2.0}}).first,
            "negative_prompt");
  auto [field, message] = refusal({{"prompt", "셔츠"}, {"negative_prompt", "체크"}});
  EXPECT_EQ(field, "negative_prompt");
  EXPECT_NE(message.find("cond_scale"), std::string::npos) << message;
  GenerateParams before_defaults;
  before_defaults.prompt = "셔츠", before_defaults.negative_prompt = "체크";
  EXPECT_NO_THROW(before_defaults.validate(/*merged=*/false));
  EXPECT_THROW(before_defaults.validate(), FieldError);
  EXPECT_NO_THROW(with_defaults(before_defaults, SamplingDefaults::from_json({{"cond_scale", 2.0}}),
                                [](const std::string&) { return false; }));
  EXPECT_EQ(SamplingDefaults::from_json({{"cond_scale", 2.0}}).to_json().size(), 1u);
  EXPECT_THROW(SamplingDefaults::from_json({{"negative_prompt", "체크"}}), FieldError);  // a request's own
}

TEST(GenerateParams, RefusesUnknownFieldsAndNonObjects) {
  auto [field, message] = refusal({{"prompt", "상의"}, {"model", "/etc/passwd"}});
  EXPECT_EQ(field, "model");
  EXPECT_NE(message.find("unknown field \"model\""), std::string::npos) << message;
  EXPECT_EQ(refusal({{"prompt", "상의"}, {"output", "../../x.png"}}).first, "output");

  auto [long_field, long_message] = refusal({{"prompt", "상의"}, {std::string(5000, 'k'), 1}});
  EXPECT_LT(long_field.size(), 60u);  // never echoes a whole oversize key
  EXPECT_LT(long_message.size(), 300u);

  EXPECT_EQ(refusal(json::array({1, 2})).first, "");
  EXPECT_EQ(refusal("상의").first, "");
  EXPECT_EQ(refusal(nullptr).first, "");
}

TEST(GenerateParams, MessagesNeverQuoteAWholeLongValue) {
  auto [field, message] = refusal({{"prompt", "상의"}, {"n", std::string(10000, '9')}});
  EXPECT_EQ(field, "n");
  EXPECT_LT(message.size(), 200u) << message;
}

TEST(GenerateParams, Utf8LengthNamesTheField) {
  EXPECT_EQ(utf8_length("상의 a", "prompt"), 4u);
  try {
    utf8_length("\xc3", "caption");
    FAIL() << "accepted a truncated sequence";
  } catch (const FieldError& e) {
    EXPECT_EQ(e.field(), "caption");
  }
}

}  // namespace
}  // namespace couture

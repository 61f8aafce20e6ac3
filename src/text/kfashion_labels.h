// K-Fashion label files (AIHub's K-Fashion dataset; layout in DESIGN.md): parsing into an ordered structure that
// keeps the file's own key order, and the known vocabulary of each attribute. Torch-free and robust to any input
// (it is fuzzed): every problem is a LabelError carrying a short reason, the key of the skip report.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace couture::kfashion {

// Skip reasons as they appear in skipped.jsonl and the end-of-run table.
inline constexpr const char* kMalformedJson = "malformed JSON";
inline constexpr const char* kNonUtf8 = "non-UTF-8 text";
inline constexpr const char* kMalformedLabel = "malformed label";  // valid JSON of the wrong shape or types
inline constexpr const char* kMissingLabels = "missing 라벨링";
inline constexpr const char* kUnknownValue = "unknown attribute value";

class LabelError : public InputError {
 public:
  LabelError(std::string reason, const std::string& detail)
      : InputError(reason + ": " + detail), reason_(std::move(reason)), detail_(detail) {}
  const std::string& reason() const { return reason_; }
  const std::string& detail() const { return detail_; }

 private:
  std::string reason_, detail_;
};

// Top-left corner and size in pixels, as 렉트좌표 gives them.
struct Rect {
  double x = 0, y = 0, width = 0, height = 0;
};

struct Attribute {
  std::string name;                 // as written in the file (칼라 and the real data's 옷깃 both occur)
  std::vector<std::string> values;  // label order; scalar attributes hold one
  bool is_list = false;             // 디테일, 소재, 프린트: captioned with 에는
};

struct Part {
  std::string name;                   // 스타일, 아우터, 하의, 원피스 or 상의
  std::vector<Attribute> attributes;  // label order; empty for `[{}]`
  std::optional<Rect> rect;           // from 렉트좌표, when given with four numbers

  const Attribute* find(std::string_view attribute) const;
  std::string first_value(std::string_view attribute) const;  // "" when absent
  bool empty() const { return attributes.empty(); }
  bool is_style() const;
};

struct Label {
  std::string image_file;  // 이미지 파일명 ("" when absent)
  std::string image_id;    // 이미지 식별자 as text ("" when absent): AIHub names the photo <id>.jpg
  int width = 0, height = 0;  // 이미지 너비 / 높이 (0 when absent)
  std::vector<Part> parts;    // 라벨링 key order, known parts only
  // Things kept but worth reporting: values outside the listed vocabulary of lenient attributes, ignored keys.
  std::vector<std::string> notes;

  const Part* find(std::string_view part) const;
};

struct ParseOptions {
  // Values outside the vocabulary of a checked attribute (카테고리, 색상, 서브색상, 프린트) are an error by default;
  // with this set they are kept and noted instead.
  bool keep_unknown_values = false;
};

// Parses the bytes of one label file. Strips a UTF-8 byte order mark, normalises text to NFC (so that decomposed
// Hangul still gets the right particle), trims values and drops empty ones.
Label parse_label(std::string_view bytes, const ParseOptions& options = {});

bool is_valid_utf8(std::string_view text);

// The five parts in K-Fashion's own order, and the attributes DESIGN.md lists (plus 옷깃 and 서브스타일).
const std::vector<std::string>& known_parts();
bool is_known_attribute(std::string_view attribute);
bool is_list_attribute(std::string_view attribute);
// True for the attributes whose unknown values make a record unusable (see ParseOptions).
bool is_checked_attribute(std::string_view attribute);
// The known values of an attribute (empty for attributes without a fixed vocabulary, e.g. 스타일).
const std::vector<std::string>& known_values(std::string_view attribute);
bool is_known_value(std::string_view attribute, std::string_view value);

}  // namespace couture::kfashion

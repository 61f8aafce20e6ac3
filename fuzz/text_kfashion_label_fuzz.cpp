// libFuzzer target: the K-Fashion label parser and the caption builder on any bytes (a label file of the dataset
// or from a stranger). Either a LabelError with one of the skip reasons, or a label whose captions, full and short,
// in both compatibility modes and for every part, are valid UTF-8.
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "text/caption.h"
#include "text/kfashion_labels.h"

using couture::fuzz::require;
namespace kf = couture::kfashion;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  kf::ParseOptions options;
  options.keep_unknown_values = size % 2 == 1;
  try {
    const kf::Label label = kf::parse_label(bytes, options);
    for (const auto& note : label.notes) require(kf::is_valid_utf8(note));
    for (auto compat : {kf::CaptionCompat::couture, kf::CaptionCompat::kodalle}) {
      for (bool keep_style : {false, true}) {
        const std::string caption = kf::full_caption(label, {compat, keep_style});
        require(kf::is_valid_utf8(caption));
      }
    }
    require(kf::is_valid_utf8(kf::short_caption(label)));
    for (const auto& part : label.parts) {
      require(kf::is_valid_utf8(kf::full_caption(label, {}, {part.name})));
      require(kf::is_valid_utf8(kf::short_caption(label, {part.name})));
      for (const auto& attribute : part.attributes) {
        for (const auto& value : attribute.values) require(!value.empty() && kf::is_valid_utf8(value));
        kf::topic_particle(attribute.name);
      }
    }
  } catch (const kf::LabelError& e) {
    require(!e.reason().empty());
  }
  return 0;
}

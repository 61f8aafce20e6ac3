// libFuzzer entry point for the tokenizer: any byte string must encode without a crash, to a well-formed result
// (the checks of tests/unit/text_tokenizer_fuzz_test.cpp, open-ended). Built by cmake/fuzz.cmake; run by
// `make fuzz` (scripts/fuzz) and briefly by `make test`.
// The first input byte picks max_len; the rest is the text.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "text/unicode.h"
#include "text/wordpiece.h"

namespace {

const couture::WordPieceTokenizer& tokenizer() {
  static const couture::WordPieceTokenizer t = [] {
    std::string text = "[CLS]\n[PAD]\n[SEP]\n[UNK]\n[MASK]\n.\n,\n!\na\n##b\n";
    for (char32_t cp = 0xAC00; cp < 0xAC00 + 600; ++cp) {
      std::string s;
      couture::utf8::append(s, cp);
      text += s + "\n##" + s + "\n";
    }
    return couture::WordPieceTokenizer(couture::parse_vocab_txt(text, "fuzz vocab"));
  }();
  return t;
}

void require(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto& t = tokenizer();
  const size_t max_len = 2 + data[0] % 100;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    const auto e = t.encode(text, max_len);
    require(e.ids.size() == max_len && e.attention_mask.size() == max_len && e.ids[0] == t.cls_id());
    size_t real = 0;
    while (real < max_len && e.attention_mask[real]) ++real;
    require(real >= 2 && e.ids[real - 1] == t.sep_id());
    for (size_t i = 0; i < max_len; ++i) {
      require(e.ids[i] >= 0 && size_t(e.ids[i]) < t.vocab_size());
      if (i >= real) require(e.attention_mask[i] == 0 && e.ids[i] == t.pad_id());
    }
    const auto whole = t.encode(text);
    for (size_t i = 0; i + 1 < real; ++i) require(e.ids[i] == whole.ids[i]);
    require(t.encode(couture::utf8::sanitize(text)).ids == whole.ids);
    t.decode(whole.ids);
  } catch (const couture::InputError&) {
    require(text.size() > t.max_input_bytes());  // the only refusal: over the size cap
  }
  return 0;
}

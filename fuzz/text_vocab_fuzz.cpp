// libFuzzer target: the vocabulary readers (vocab.txt, tokenizer.json, tokenizer_config.json) on any bytes, then a
// tokenizer built from whatever loaded. The first byte picks the reader; for tokenizer_config.json the rest is a
// vocab.txt and a config separated by the first NUL byte. Either a clean couture::InputError, or a tokenizer that
// encodes text to ids inside the vocabulary.
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "fuzz/fuzz_check.h"
#include "text/vocab.h"
#include "text/wordpiece.h"

using couture::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    couture::Vocab vocab;
    switch (data[0] % 3) {
      case 0: vocab = couture::parse_vocab_txt(rest, "fuzz vocab.txt"); break;
      case 1: vocab = couture::parse_tokenizer_json(rest, "fuzz tokenizer.json"); break;
      default: {
        const size_t cut = rest.find('\0');
        vocab = couture::parse_vocab_txt(rest.substr(0, cut), "fuzz vocab.txt");
        if (cut != std::string_view::npos)
          couture::apply_tokenizer_config(vocab, rest.substr(cut + 1), "fuzz tokenizer_config.json");
      }
    }
    const couture::WordPieceTokenizer tokenizer(std::move(vocab));
    const std::string_view fixed = "상의에서 색상은 화이트이다. [MASK] abc ##x";
    for (std::string_view text : {fixed, rest.substr(0, 256)}) {
      const auto encoding = tokenizer.encode(text, 32);
      require(encoding.ids.size() == 32 && encoding.ids[0] == tokenizer.cls_id());
      for (int32_t id : encoding.ids) require(id >= 0 && size_t(id) < tokenizer.vocab_size());
      tokenizer.decode(encoding.ids);
    }
  } catch (const couture::InputError&) {
  }
  return 0;
}

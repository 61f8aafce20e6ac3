// A model bundle of tiny, randomly initialised models (seeded), written by the real bundle code: for end-to-end
// tests of `couture generate`, the server and the evaluation without a trained model.
#pragma once
#include <ATen/Context.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "models/clip.h"
#include "models/dalle.h"
#include "models/vqgan.h"
#include "nn/tensor_io.h"
#include "generate/bundle.h"

namespace couture::testing {

// The Korean words of Couture-FMNIST captions, enough for a WordPiece vocabulary that covers the test prompts;
// then filler pieces up to `size` entries when `size` is larger (a preset's exact vocabulary size).
inline void write_tiny_vocab(const std::filesystem::path& path, int64_t size = 0) {
  std::ofstream out(path);
  int64_t n = 0;
  for (const char* w : {"[CLS]", "[PAD]", "[SEP]", "[UNK]", "[MASK]", ".", ",", "상의에서", "원피스에서", "하의에서", "색상은",
                        "카테고리는", "프린트에는", "레드이다", "블루이다", "그린이다", "티셔츠이다", "드레스이다", "무지이다",
                        "체크이다", "레드", "블루", "이다", "##이다"}) {
    out << w << "\n";
    ++n;
  }
  for (; n < size; ++n) out << "##f" << n << "\n";
}

// Writes randomly initialised models of these configs (seeded; no reranker when `clip` is null) and bundles them
// as DIR/bundle with the real bundle code; the sources under DIR/src are removed afterwards when `keep_sources` is
// false. `dc.num_text_tokens` must match the vocabulary DIR/src/vocab.txt.
inline std::filesystem::path write_random_bundle(const std::filesystem::path& dir, const VQGanConfig& vc,
                                                 const DalleConfig& dc, const ClipConfig* clip,
                                                 const std::string& name, bool keep_sources = true) {
  BundleSources sources;
  sources.vocab = dir / "src/vocab.txt";
  sources.vqgan = dir / "src/vqgan.safetensors";
  sources.dalle = dir / "src/dalle.safetensors";
  {
    VQModel vqgan(vc);
    save_vqgan(sources.vqgan, vqgan);
  }
  {
    Dalle dalle(dc);
    save_tensors(sources.dalle, state_dict(*dalle), {{"config", dc.to_json().dump()}});
  }
  if (clip) {
    Clip model(*clip);
    model->reset_parameters(at::detail::getDefaultCPUGenerator());
    sources.reranker = dir / "src/clip.safetensors";
    save_clip(sources.reranker, *model);
  }
  sources.name = name;
  write_bundle(sources, dir / "bundle");
  if (!keep_sources) std::filesystem::remove_all(dir / "src");
  return dir / "bundle";
}

inline std::filesystem::path make_tiny_bundle(const std::filesystem::path& dir, uint64_t seed = 1,
                                              bool with_reranker = true) {
  namespace fs = std::filesystem;
  fs::create_directories(dir / "src");
  write_tiny_vocab(dir / "src/vocab.txt");
  const int64_t vocab = 24, pad = 1;
  at::manual_seed(seed);

  VQGanConfig vc;
  vc.resolution = 16;
  vc.ch = 32;
  vc.ch_mult = {1, 2};
  vc.num_res_blocks = 1;
  vc.attn_resolutions = {};
  vc.z_channels = 8;
  vc.embed_dim = 8;
  vc.n_embed = 32;

  DalleConfig dc = DalleConfig::preset("fmnist");
  dc.num_text_tokens = vocab;
  dc.text_seq_len = 16;
  dc.text_pos_len = 17;
  dc.dim = 32;
  dc.depth = 1;
  dc.heads = 2;
  dc.dim_head = 16;
  dc.image_fmap_size = vc.grid_size();
  dc.num_image_tokens = vc.n_embed;
  dc.text_pad_id = pad;

  ClipConfig cc = ClipConfig::preset("tiny");
  cc.set_vocab(vocab, pad);
  return write_random_bundle(dir, vc, dc, with_reranker ? &cc : nullptr, "tiny");
}

}  // namespace couture::testing

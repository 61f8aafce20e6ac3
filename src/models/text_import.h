// `couture text import`: KoDALLE's text side
// from a pretrained RoBERTa/BERT (e.g. klue/roberta-large). KoDALLE's DALLE_Klue_Roberta loads the language model's
// word embeddings as `text_emb` (vocabulary rows, so text_emb has num_text_tokens = vocab rows, not vocab +
// text_seq_len) and its position table as `text_pos_emb`, indexed 0..text_seq_len directly (BOS + the text).
// With --encoder FILE the whole text encoder (embeddings.*, encoder.layer.N.*) is also written, prefix stripped,
// for the CLIP reranker's text tower.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

namespace couture {

struct TextImportOptions {
  std::filesystem::path from, vocab, out, config, encoder;  // config: default config.json beside `from`, if any
  int64_t text_seq_len = 64, dim = 0, position_rows = 0;     // dim 0: any; position_rows 0: all
};

struct TextImportReport {
  int64_t rows = 0, dim = 0, positions = 0;  // text_emb [rows, dim], text_pos_emb [positions, dim]
  std::string prefix;                        // "roberta.", "bert." or ""
  size_t encoder_tensors = 0;                // written to `encoder`, when asked
};

// Writes `out` (and `encoder`, when set) atomically. InputError naming the file and tensor when the checkpoint is
// not a RoBERTa/BERT one, disagrees with its config or the vocabulary, or is too short for text_seq_len.
TextImportReport import_text_embeddings(const TextImportOptions& options);

}  // namespace couture

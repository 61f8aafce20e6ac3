// couture text import --from model.safetensors --vocab vocab.txt --out text_init.safetensors: KoDALLE's text side
// from a pretrained RoBERTa/BERT (e.g. klue/roberta-large). KoDALLE's DALLE_Klue_Roberta loads the language model's
// word embeddings as `text_emb` (vocabulary rows, so text_emb has num_text_tokens = vocab rows, not vocab +
// text_seq_len) and its position table as `text_pos_emb`, indexed 0..text_seq_len directly (BOS + the text).
// With --encoder FILE the whole text encoder (embeddings.*, encoder.layer.N.*) is also written, prefix stripped,
// for the CLIP reranker's text tower.
#include <cstdio>

#include "command.h"
#include "models/text_import.h"

COUTURE_COMMAND("text import", "Make the DALL-E's text embeddings from a pretrained RoBERTa/BERT checkpoint") {
  static couture::TextImportOptions o;
  cmd.add_option("--from", o.from, "The language model's model.safetensors")->required();
  cmd.add_option("--vocab", o.vocab, "Its vocabulary: vocab.txt, tokenizer.json or their folder")->required();
  cmd.add_option("--out", o.out, "Output safetensors: text_emb.weight and text_pos_emb.weight")->required();
  cmd.add_option("--config", o.config, "The model's config.json (default: config.json beside --from, if any)");
  cmd.add_option("--text-seq-len", o.text_seq_len, "The DALL-E's text length; needs text_seq_len + 1 positions")
      ->check(CLI::PositiveNumber);
  cmd.add_option("--dim", o.dim, "Expected embedding width (0: any)")->check(CLI::NonNegativeNumber);
  cmd.add_option("--position-rows", o.position_rows, "Keep only the first N position rows (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--encoder", o.encoder, "Also write the whole text encoder here, for the CLIP text tower");
  cmd.callback([] {
    const auto r = couture::import_text_embeddings(o);
    std::printf("%s: text_emb.weight [%lld, %lld], text_pos_emb.weight [%lld, %lld] from %s (prefix '%s')\n",
                o.out.c_str(), (long long)r.rows, (long long)r.dim, (long long)r.positions, (long long)r.dim,
                o.from.c_str(), r.prefix.c_str());
    if (!o.encoder.empty()) std::printf("%s: %zu encoder tensors\n", o.encoder.c_str(), r.encoder_tensors);
  });
}

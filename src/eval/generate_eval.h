// `couture eval generate`: do the generated designs show what the caption asked for? On a prepared dataset whose
// test captions' category, colour and print are known, for N test captions (picked by seed) it generates n
// candidates each through a bundle's Generator (reranked by its KoCLIP) and lets the judge (eval/judge_trainer.h),
// a classifier kept apart from the reranker, read each design's attributes. Figures:
// - attribute accuracy (category, colour, print, all three at once) of the top-1, of the top-k (mean over the k
//   kept) and of k random candidates (the reranker's gain), of the best of n (some candidate shows it: the most a
//   reranker could pick), beside the judge's own accuracy on the real test
//   images (the ceiling: a design can hardly be graded better than a photo) and on the evaluated captions' own
//   images after the bundle's VQGAN (encoded and decoded: what the image tokenizer lets any design show);
// - Fréchet distance on the judge's pooled features: all generated candidates vs the real test images, beside real
//   train images (as many as were generated) vs the same test images;
// - diversity: mean pairwise L2 distance between the judge features of one caption's candidates, beside the same
//   for real test images that share a caption's three attributes (groups of up to n);
// - the reranker's mean score of the kept k and of all n.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "generate/generate_params.h"
#include "generate/generator.h"
#include "train/attribute_labels.h"
#include "eval/judge_trainer.h"

namespace couture {

class Dataset;

// A prompt written by hand with the attributes it asks for (a line of a --prompts-file).
struct EvalPrompt {
  std::string prompt, category, colour, print;
  std::string negative_prompt;  // optional: this prompt's own (else the sampling settings')
};
// JSON lines {"prompt", "category", "colour", "print"[, "negative_prompt"]} (K-Fashion label values; "#" lines and
// blank lines skipped).
// Bad lines are skipped and counted in `skipped`, the first one named in `first_problem`; InputError when the file
// cannot be read or holds no good line.
struct EvalPromptFile {
  std::vector<EvalPrompt> prompts;
  int64_t skipped = 0;
  std::string first_problem;
};
EvalPromptFile read_eval_prompts(const std::filesystem::path& file);

struct GenerateEvalOptions {
  int64_t prompts = 300;      // test captions (fewer when the split is smaller)
  // Instead of test captions: these prompts, in order (each shown beside a real test image with the same three
  // attributes, which is also what the tokenizer row encodes; prompts without one leave that row).
  std::vector<EvalPrompt> prompt_list;
  int grid_rows = 8;          // captions shown in the figure (real image, then the kept k)
  // n, top, temperature, top_k, top_p, cond_scale; seed picks the captions and the random k, and caption p
  // generates with seed + p * n (the prompt is set per caption).
  GenerateParams sampling;
  // When set: every candidate with its prompt, rank, score and the judge's reading, written here (safetensors;
  // `couture eval rerank` ranks them again with another reranker without generating anew).
  std::filesystem::path candidates_out;
};

struct GenerateEvalCaption {  // one evaluated caption, for the figure and the report
  int64_t record = 0;
  std::string caption, category, colour, print;
  std::vector<Image> kept;  // the top k, best first
};

struct GenerateEvalResult {
  int64_t prompts = 0, n = 0, top = 0, real_test = 0, real_train = 0;
  AttributeHits ceiling, top1, topk, randomk;
  AttributeHits any;        // some candidate of the n shows it (all three: one candidate shows all three): what a
                            // perfect reranker would reach
  AttributeHits tokenized;  // the captions' own real images after the bundle's VQGAN (encode, decode)
  int64_t unknown_labels = 0;  // caption attributes the judge has no class for (counted as wrong)
  double fd_generated = 0, fd_train = 0;
  double diversity = 0, diversity_real = 0;
  double score_kept = 0, score_all = 0;
  double generate_seconds = 0, seconds = 0;
  std::vector<GenerateEvalCaption> shown;  // the first grid_rows captions

  nlohmann::ordered_json to_json() const;
  std::string markdown() const;  // the tables people read, with the figure's captions
};

// The figure: one row per shown caption, its real test image then the kept candidates.
Image generate_eval_figure(const GenerateEvalResult& result, const Dataset& test);

GenerateEvalResult evaluate_generation(Generator& generator, const LoadedJudge& judge, const Dataset& train,
                                       const Dataset& test, const GenerateEvalOptions& options);

// Fréchet distance between Gaussians fitted to two feature sets [N, D] and [M, D] (Heusel et al. 2017):
// |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2), in double precision.
double frechet_distance(const at::Tensor& a, const at::Tensor& b);

}  // namespace couture

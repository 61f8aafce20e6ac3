// What a result looks like on disk and on screen: each candidate's PNG text (what made it, so a downloaded file says
// how to make it again) and a contact sheet of all candidates in rank order with their scores.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/image.h"
#include "generate/generator.h"

namespace couture {

// What attribute reranking read in a candidate: {"색상": p, ...}, p(asked value | image); {} when it was off.
nlohmann::ordered_json attributes_json(const Candidate& candidate);

// The PNG `parameters` text of one candidate: prompt, seed, index, rank (0 = best), score, settings, model.
std::string candidate_parameters(const GenerateParams& params, const Candidate& candidate, size_t rank,
                                 const std::string& model_name);

// All candidates (already in rank order) in a grid, each scaled up to at least 128 px with "rank score #index"
// below it; the first `top` get a coloured frame (the ones kept).
Image contact_sheet(const std::vector<Candidate>& candidates, int top, int cols = 8);

// One request's folder, as `couture generate` writes it: rank-01.png ... (the best `params.top`, each with its
// parameters text), contact.png, and result.json (atomically) holding the summary plus every candidate's seed and
// score. Returns the summary (prompt, model, files, timings, settings, what the prompt was read as).
nlohmann::ordered_json write_result_folder(const GenerateParams& params, const GenerateResult& result,
                                           const std::string& model_name, const std::filesystem::path& dir,
                                           double seconds);

}  // namespace couture

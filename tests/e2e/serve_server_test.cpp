// `couture serve` as a client sees it: the JSON API (submit, poll, events, images, cancel, config) and its limits
// (413, 429, 400 naming the field, 404). The server runs in-process on 127.0.0.1 with an ephemeral port and a fake
// generator. What hostile clients send is in serve_abuse_test.cpp, the load tests in serve_server_load_test.cpp.
#include <gtest/gtest.h>

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <thread>

#include "core/base64.h"
#include "io/image.h"
#include "support/studio_client.h"
#include "support/studio_server.h"
#include "text/caption.h"
#include "text/fmnist_vocabulary.h"
#include "text/lexicon.h"

namespace couture {
namespace {

using json = nlohmann::json;
using testing::FakeOptions;
using testing::Gate;
using testing::TestServer;
using testing::client_for;
using testing::fake_factory;
using testing::finished;
using testing::kRequest;
using testing::parse;
using testing::submit;
using testing::wait_finished;
using namespace std::chrono_literals;

FakeOptions gated(std::shared_ptr<Gate> gate) {
  FakeOptions o;
  o.gate = std::move(gate);
  return o;
}

template <typename Pred>
void wait_until(Pred pred) {
  for (int i = 0; i < 6000 && !pred(); ++i) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(pred());
}

TEST(PipelineServer, GeneratesRanksAndServesPngsWithTheirSettings) {
  TestServer server(fake_factory());
  auto c = client_for(server.port());
  auto r = submit(c, kRequest);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  json reply = parse(r);
  std::string id = reply["id"];
  EXPECT_EQ(id.size(), 16u);
  EXPECT_TRUE(reply.contains("queue_position"));
  EXPECT_EQ(r->get_header_value("Location"), "/v1/jobs/" + id);

  json job = wait_finished(c, id);
  ASSERT_EQ(job["status"], "done") << job.dump();
  ASSERT_EQ(job["results"].size(), 8u);
  EXPECT_EQ(job["settings"]["seed"], 42);
  EXPECT_EQ(job["settings"]["top"], 4);
  EXPECT_EQ(job["progress"]["fraction"], 1.0);
  double previous = 1e9;
  std::vector<int> indices;
  for (const auto& result : job["results"]) {
    EXPECT_LE(result["score"].get<double>(), previous);  // best first
    previous = result["score"];
    EXPECT_EQ(result["seed"].get<uint64_t>(), 42u + result["index"].get<uint64_t>());  // candidate i: seed + i
    indices.push_back(result["index"]);
  }
  std::sort(indices.begin(), indices.end());
  EXPECT_EQ(indices, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));

  auto png = c.Get(job["results"][0]["url"].get<std::string>().c_str());
  ASSERT_TRUE(png);
  ASSERT_EQ(png->status, 200);
  EXPECT_EQ(png->get_header_value("Content-Type"), "image/png");
  Image image = decode_image(reinterpret_cast<const uint8_t*>(png->body.data()), png->body.size(), "result");
  EXPECT_EQ(image.width, 96);
  auto text = png_text(png->body);
  ASSERT_TRUE(text);
  json parameters = json::parse(*text);
  EXPECT_EQ(parameters["prompt"], kRequest["prompt"]);
  EXPECT_EQ(parameters["seed"], job["results"][0]["seed"]);
  EXPECT_EQ(parameters["index"], job["results"][0]["index"]);
  EXPECT_EQ(parameters["score"], job["results"][0]["score"]);
  EXPECT_EQ(parameters["settings"]["n"], 8);

  // The same request and seed give the same images; another seed gives others.
  json again = wait_finished(c, parse(submit(c, kRequest))["id"]);
  EXPECT_EQ(c.Get(again["results"][0]["url"].get<std::string>().c_str())->body, png->body);
  json other_request = kRequest;
  other_request["seed"] = 43;
  json other = wait_finished(c, parse(submit(c, other_request))["id"]);
  EXPECT_NE(other["results"], job["results"]);
}

TEST(PipelineServer, SaysWhatAPromptIsReadAs) {
  TestServer server(fake_factory());
  auto c = client_for(server.port());
  auto understand = [&](const json& body) {
    return c.Post("/v1/understand", body.dump(), "application/json");
  };
  auto r = understand({{"prompt", "네이비 바탕에 레드 줄무늬 셔츠 여친룩 zzz"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json read = json::parse(r->body);
  EXPECT_EQ(read["part"], "상의");
  EXPECT_EQ(read["attributes"]["색상"], "네이비");
  EXPECT_EQ(read["attributes"]["서브색상"], "레드");
  EXPECT_EQ(read["attributes"]["카테고리"], "셔츠");
  EXPECT_EQ(read["attributes"]["프린트"], json::array({"스트라이프"}));
  EXPECT_EQ(read["unrecognized"], json::array({"zzz"}));
  // The caption prompt_as "understood" has the models read.
  EXPECT_EQ(read["caption"], "상의에서 색상은 네이비이다. 상의에서 서브색상은 레드이다. 상의에서 카테고리는 셔츠이다. "
                             "상의에서 프린트에는 스트라이프이다.");
  // Nothing recognised is an answer, not an error; bad prompts are 400s naming the field; JSON only.
  r = understand({{"prompt", "hello"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(json::parse(r->body)["attributes"].empty());
  EXPECT_EQ(json::parse(r->body)["caption"], "");
  for (const json& bad : {json{{"prompt", "   "}}, json{{"prompt", std::string(201, 'a')}}, json{{"text", "a"}},
                          json{{"prompt", 3}}}) {
    r = understand(bad);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad.dump();
    EXPECT_EQ(json::parse(r->body)["field"], "prompt") << r->body;
  }
  r = c.Post("/v1/understand", "prompt=a", "application/x-www-form-urlencoded");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 415);
  // Every job says the same of its prompt.
  json request = kRequest;
  request["prompt"] = "빨간 줄무늬 티셔츠";
  json job = wait_finished(c, parse(submit(c, request))["id"]);
  EXPECT_EQ(job["understood"]["attributes"]["색상"], "레드") << job.dump();
}

TEST(PipelineServer, PicksASeedWhenNoneIsGiven) {
  TestServer server(fake_factory());
  auto c = client_for(server.port());
  json request = kRequest;
  request.erase("seed");
  json a = parse(submit(c, request)), b = parse(submit(c, request));
  ASSERT_TRUE(a["settings"]["seed"].is_number_unsigned());
  EXPECT_NE(a["settings"]["seed"], b["settings"]["seed"]);
}

TEST(PipelineServer, ListensOnLoopbackAndOwnsItsPort) {
  EXPECT_EQ(ServerOptions().host, "127.0.0.1");
  TestServer first(fake_factory());
  ServerOptions options;
  options.port = first.port();
  StudioServer second(std::make_unique<testing::FakeGenerator>(), options);
  EXPECT_THROW(second.bind(), InputError);  // not a silent second listener sharing the port
  EXPECT_EQ(client_for(first.port()).Get("/health")->status, 200);
}

TEST(PipelineServer, HealthPageAndStaticFiles) {
  TestServer server(fake_factory());
  auto c = client_for(server.port());
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  json h = parse(health);
  EXPECT_EQ(h["status"], "ok");
  EXPECT_EQ(h["model"]["name"], "fake");
  EXPECT_EQ(h["limits"]["max_prompt_chars"], 200);
  EXPECT_EQ(h["limits"]["max_n"], 64);

  auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->get_header_value("Content-Type").find("text/html"), std::string::npos);
  EXPECT_NE(page->body.find("Couture"), std::string::npos);
  EXPECT_NE(page->body.find("생성하기"), std::string::npos);
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  // The page is the files in web/ as they are now: CMake compiles them in and rebuilds when one changes.
  struct Served {
    const char* url;
    const char* file;
    const char* type;
  };
  for (const Served& s : {Served{"/", "studio.html", "text/html"}, Served{"/studio.css", "studio.css", "text/css"},
                          Served{"/studio.js", "studio.js", "text/javascript"}}) {
    auto r = c.Get(s.url);
    ASSERT_TRUE(r) << s.url;
    EXPECT_EQ(r->status, 200) << s.url;
    EXPECT_EQ(r->get_header_value("Content-Type").rfind(s.type, 0), 0u) << s.url;
    std::ifstream in(std::string(COUTURE_SOURCE_DIR) + "/web/" + s.file, std::ios::binary);
    EXPECT_EQ(r->body, std::string(std::istreambuf_iterator<char>(in), {})) << s.url;
  }
}

// GET /v1/config: everything the studio reads instead of knowing it, as the C++ that owns it has it.
TEST(PipelineServer, ConfigGivesLimitsDefaultsPaletteAndTheCaptionSentences) {
  struct BundleWithDefaults : testing::FakeGenerator {  // model.json "defaults", as a trained bundle may have
    json describe() const override {
      json d = FakeGenerator::describe();
      d["defaults"] = {{"top_k", 64}, {"cond_scale", 3.0}};
      return d;
    }
  };
  TestServer server([] { return std::make_unique<BundleWithDefaults>(); });
  auto c = client_for(server.port());
  auto r = c.Get("/v1/config");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  json config = json::parse(r->body);

  EXPECT_EQ(config["limits"]["max_prompt_chars"], kMaxPromptChars);
  EXPECT_EQ(config["limits"]["max_n"], kMaxCandidates);
  EXPECT_EQ(config["limits"]["max_cond_scale"], kMaxCondScale);
  EXPECT_EQ(parse(c.Get("/health"))["limits"], config["limits"]);
  // The studio starts from the bundle's sampling defaults, GenerateParams' own for the rest.
  EXPECT_EQ(config["defaults"], (json{{"n", 16}, {"top", 4}, {"temperature", 1.0}, {"top_k", 64}, {"top_p", 1.0},
                                      {"cond_scale", 3.0}, {"attribute_weight", 0.0}}));
  // The colours as Couture-FMNIST paints them.
  ASSERT_EQ(config["palette"].size(), fmnist_palette().size());
  for (const auto& colour : fmnist_palette()) EXPECT_EQ(config["palette"][colour.name], hex_colour(colour));
  EXPECT_EQ(config["palette"]["네이비"], "#19235f");

  // The pickers in K-Fashion's label order; each one's sentence, filled in, is what the caption code writes.
  auto fill = [](std::string sentence, const std::string& part, const std::string& value) {
    sentence.replace(sentence.find("{part}"), 6, part);
    sentence.replace(sentence.find("{value}"), 7, value);
    return sentence;
  };
  std::vector<std::string> names;
  std::map<std::string, json> picker;
  for (const json& p : config["pickers"]) {
    const std::string name = p["attribute"];
    names.push_back(name);
    picker[name] = p;
    for (const std::string part : config["parts"]) {
      const json& values = p.contains("values") ? p["values"] : p["values_by_part"][part];
      ASSERT_FALSE(values.empty()) << name << " " << part;
      for (const std::string value : values)
        EXPECT_EQ(fill(p["sentence"], part, value),
                  kfashion::attribute_sentence(part, {name, {value}, kfashion::is_list_attribute(name)},
                                               kfashion::CaptionCompat::couture));
    }
  }
  EXPECT_EQ(names, (std::vector<std::string>{"기장", "색상", "서브색상", "카테고리", "소매기장", "프린트", "넥라인", "핏"}));
  EXPECT_EQ(fill(picker["색상"]["sentence"], "상의", "네이비"), "상의에서 색상은 네이비이다.");
  EXPECT_EQ(fill(picker["카테고리"]["sentence"], "하의", "팬츠"), "하의에서 카테고리는 팬츠이다.");
  EXPECT_EQ(fill(picker["프린트"]["sentence"], "상의", "스트라이프"), "상의에서 프린트에는 스트라이프이다.");

  // Couture-FMNIST's vocabulary (the default model's) for colours, categories and prints; the lexicon's for the
  // rest, without spelling variants (노말 is 노멀).
  EXPECT_EQ(config["parts"], json::array({"상의", "하의", "원피스", "아우터"}));
  EXPECT_EQ(picker["카테고리"]["values_by_part"]["상의"], json::array({"티셔츠", "니트웨어", "셔츠"}));
  EXPECT_EQ(picker["카테고리"]["required"], true);
  EXPECT_EQ(picker["색상"]["values"].size(), fmnist_palette().size());
  EXPECT_EQ(picker["서브색상"]["swatches"], true);
  EXPECT_EQ(picker["프린트"]["swatches"], false);
  EXPECT_EQ(picker["프린트"]["values"], json(fmnist_prints()));
  EXPECT_EQ(picker["프린트"]["initial"], "스트라이프");
  EXPECT_EQ(picker["핏"]["values"], json(default_lexicon().values("핏")));
  EXPECT_EQ(std::count(picker["기장"]["values"].begin(), picker["기장"]["values"].end(), "노말"), 0);
}

// A bundle that says what it learnt (model.json "attribute_values") gets pickers of those values only: a designer is
// never offered a colour the model never saw.
TEST(PipelineServer, PickersOfferTheValuesTheBundleLearnt) {
  struct BundleWithValues : testing::FakeGenerator {
    json describe() const override {
      json d = FakeGenerator::describe();
      d["attribute_values"] = {{"카테고리", {"셔츠", "드레스", "팬츠"}}, {"색상", {"네이비", "블랙"}}, {"프린트", {"무지"}}};
      return d;
    }
  };
  TestServer server([] { return std::make_unique<BundleWithValues>(); });
  auto c = client_for(server.port());
  const json config = parse(c.Get("/v1/config"));
  std::map<std::string, json> picker;
  for (const json& p : config["pickers"]) picker[p["attribute"]] = p;
  EXPECT_EQ(config["parts"], json::array({"상의", "원피스", "하의"}));
  EXPECT_EQ(picker["카테고리"]["values_by_part"], (json{{"상의", {"셔츠"}}, {"원피스", {"드레스"}}, {"하의", {"팬츠"}}}));
  EXPECT_EQ(picker["색상"]["values"], json::array({"네이비", "블랙"}));
  EXPECT_EQ(picker["색상"]["initial"], "네이비") << "레드 is not offered, so the first value is";
  EXPECT_EQ(picker["서브색상"]["values"], json::array({"네이비", "블랙"}));
  EXPECT_EQ(picker["프린트"]["values"], json::array({"무지"}));
  EXPECT_EQ(config["limits"]["max_attribute_weight"], kMaxAttributeWeight);
}

TEST(PipelineServer, StreamsProgressEventsUntilDone) {
  FakeOptions fake;
  fake.steps = 8;
  fake.step_delay = 2ms;
  TestServer server(fake_factory(fake));
  auto c = client_for(server.port());
  json reply = parse(submit(c, kRequest));
  std::string stream;
  auto r = c.Get(reply["events"].get<std::string>().c_str(), [&](const char* data, size_t size) {
    stream.append(data, size);
    return true;
  });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->get_header_value("Content-Type").find("text/event-stream"), std::string::npos);
  // Every event has a name and one line of JSON; progress only grows; the last says done with the results.
  std::vector<std::pair<std::string, json>> events;
  std::istringstream lines(stream);
  std::string line, name;
  while (std::getline(lines, line)) {
    if (line.rfind("event: ", 0) == 0) name = line.substr(7);
    if (line.rfind("data: ", 0) == 0) events.push_back({name, json::parse(line.substr(6))});
  }
  ASSERT_GE(events.size(), 2u) << stream;
  double fraction = 0;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    EXPECT_EQ(events[i].first, "progress");
    EXPECT_GE(events[i].second["progress"]["fraction"].get<double>(), fraction);
    fraction = events[i].second["progress"]["fraction"];
  }
  EXPECT_EQ(events.back().first, "done");
  EXPECT_EQ(events.back().second["results"].size(), 8u);
  bool saw_sampling = std::any_of(events.begin(), events.end(),
                                  [](const auto& e) { return e.second["progress"]["stage"] == "sample"; });
  EXPECT_TRUE(saw_sampling);

  // A finished job's stream says so at once and ends.
  auto late = c.Get(reply["events"].get<std::string>().c_str());
  ASSERT_TRUE(late);
  EXPECT_NE(late->body.find("event: done"), std::string::npos);
}

TEST(PipelineServer, CancelsQueuedAndRunningJobs) {
  auto gate = std::make_shared<Gate>();
  TestServer server(fake_factory(gated(gate)));
  auto c = client_for(server.port());
  std::string running = parse(submit(c, kRequest))["id"];
  wait_until([&] { return gate->waiting == 1; });
  json queued = parse(submit(c, kRequest));
  EXPECT_EQ(queued["status"], "queued");
  EXPECT_EQ(queued["queue_position"], 1);  // behind the running one

  auto del = c.Delete(("/v1/jobs/" + queued["id"].get<std::string>()).c_str());
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 200);
  EXPECT_EQ(parse(del)["status"], "cancelled");

  EXPECT_EQ(parse(c.Get(("/v1/jobs/" + running).c_str()))["status"], "running");
  EXPECT_EQ(c.Delete(("/v1/jobs/" + running).c_str())->status, 200);
  json job = wait_finished(c, running);
  EXPECT_EQ(job["status"], "cancelled");
  EXPECT_FALSE(job.contains("results"));
  EXPECT_EQ(c.Get(("/v1/jobs/" + running + "/images/0.png").c_str())->status, 404);

  // The worker is free again.
  gate->open();
  EXPECT_EQ(wait_finished(c, parse(submit(c, kRequest))["id"])["status"], "done");
}

TEST(PipelineServer, FullQueueAnswers429AndRecovers) {
  auto gate = std::make_shared<Gate>();
  ServerOptions options;
  options.queue.max_queued = 2;
  TestServer server(fake_factory(gated(gate)), options);
  auto c = client_for(server.port());
  std::vector<std::string> ids = {parse(submit(c, kRequest))["id"]};
  wait_until([&] { return gate->waiting == 1; });
  for (int i = 0; i < 2; ++i) {
    auto r = submit(c, kRequest);
    ASSERT_EQ(r->status, 202);
    ids.push_back(parse(r)["id"]);
  }
  auto full = submit(c, kRequest);
  ASSERT_TRUE(full);
  EXPECT_EQ(full->status, 429);
  EXPECT_EQ(full->get_header_value("Retry-After"), "5");
  EXPECT_NE(parse(full)["error"].get<std::string>().find("queue is full"), std::string::npos);
  json health = parse(c.Get("/health"));
  EXPECT_EQ(health["queue"]["queued"], 2);
  EXPECT_EQ(health["queue"]["rejected_total"], 1);

  gate->open();
  for (const auto& id : ids) EXPECT_EQ(wait_finished(c, id)["status"], "done");
  EXPECT_EQ(submit(c, kRequest)->status, 202);
}

TEST(PipelineServer, LimitsAnswer413And400NamingTheField) {
  TestServer server(fake_factory());
  auto c = client_for(server.port());
  json big = kRequest;
  big["prompt"] = std::string(70 * 1024, 'a');
  auto r = c.Post("/v1/understand", big.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(parse(r)["error"].get<std::string>().find("65536 bytes"), std::string::npos) << r->body;
  // /v1/generate may carry a picture (init_image): its body may be larger, then its fields are checked.
  r = submit(c, big);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(parse(r)["field"], "prompt");
  big["prompt"] = std::string((4 << 20) + 1, 'a');
  r = submit(c, big);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(parse(r)["error"].get<std::string>().find("4194304 bytes"), std::string::npos) << r->body;

  struct Case {
    const char* field;
    json value;
  };
  for (const Case& bad : {Case{"n", 65}, Case{"n", -1}, Case{"n", "8"}, Case{"prompt", std::string(201, 'a')},
                          Case{"top_p", 2}, Case{"seed", -5}, Case{"nonsense", 1}}) {
    json request = kRequest;
    request[bad.field] = bad.value;
    auto answer = submit(c, request);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 400) << bad.field;
    json body = parse(answer);
    EXPECT_EQ(body["field"], bad.field) << answer->body;
    EXPECT_NE(body["error"].get<std::string>().find(bad.field), std::string::npos) << answer->body;
  }
}

TEST(PipelineServer, UnknownJobsImagesAndRoutesAre404) {
  TestServer server(fake_factory());
  auto c = client_for(server.port());
  std::string id = parse(submit(c, kRequest))["id"];
  wait_finished(c, id);
  const std::vector<std::string> paths = {"/v1/jobs/0123456789abcdef",        "/v1/jobs/0123456789abcdef/events",
                                          "/v1/jobs/xyz",                     "/v1/jobs/" + id + "/images/8.png",
                                          "/v1/jobs/" + id + "/images/999.png", "/v1/jobs/" + id + "/images/-1.png",
                                          "/nope"};
  for (const auto& path : paths) {
    auto r = c.Get(path.c_str());
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path;
    EXPECT_TRUE(parse(r).contains("error")) << path << ": " << r->body;
  }
  EXPECT_EQ(c.Delete("/v1/jobs/0123456789abcdef")->status, 404);
  // A route asked with another method: 405, saying which methods it takes.
  auto wrong = c.Get("/v1/generate");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(wrong->get_header_value("Allow"), "POST");
  EXPECT_NE(parse(wrong)["error"].get<std::string>().find("allowed: POST"), std::string::npos) << wrong->body;
  EXPECT_EQ(c.Put("/v1/jobs/" + id, "{}", "application/json")->get_header_value("Allow"), "GET, DELETE, PATCH, HEAD");
}

TEST(PipelineServer, FailedJobsSayWhy) {
  FakeOptions fake;
  fake.fail_on_prompt = "FAIL";
  fake.input_error_on_prompt = "BADCODES";
  TestServer server(fake_factory(fake));
  auto c = client_for(server.port());
  json request = kRequest;
  request["prompt"] = "FAIL 상의";
  json failed = wait_finished(c, parse(submit(c, request))["id"]);
  EXPECT_EQ(failed["status"], "failed");
  EXPECT_NE(failed["error"].get<std::string>().find("told to fail"), std::string::npos);
  request["prompt"] = "BADCODES 상의";
  json refused = wait_finished(c, parse(submit(c, request))["id"]);
  EXPECT_EQ(refused["status"], "failed");
  EXPECT_NE(refused["error"].get<std::string>().find("codebook"), std::string::npos);
  EXPECT_EQ(wait_finished(c, parse(submit(c, kRequest))["id"])["status"], "done");  // the server carries on
}

// "Bring your own design": a picture sent as base64 becomes a variations job (its size in the settings), a body
// larger than other routes accept included; what is not an image is a 400 naming init_image.
TEST(PipelineServer, AnUploadedPictureIsVaried) {
  TestServer server(fake_factory());
  auto c = client_for(server.port());
  couture::Image photo = couture::make_image(300, 200, 3, 255);
  uint32_t state = 7;
  for (auto& p : photo.pixels) p = uint8_t((state = state * 1664525u + 1013904223u) >> 24);  // noise: a big PNG
  const std::string png = couture::encode_png(photo);
  ASSERT_GT(png.size(), 64u * 1024);
  json request = kRequest;
  request["init_image"] = "data:image/png;base64," + couture::base64_encode(png);
  auto r = submit(c, request);
  ASSERT_EQ(r->status, 202) << r->body;
  json job = wait_finished(c, parse(r)["id"]);
  EXPECT_EQ(job["status"], "done");
  EXPECT_EQ(job["settings"]["init_image_given"], "300x200");
  request["init_image"] = couture::base64_encode("GIF89a not a png");
  r = submit(c, request);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(parse(r)["field"], "init_image");
}

TEST(PipelineServer, VariationsPrimeWithAChosenCandidate) {
  TestServer server(fake_factory());
  auto c = client_for(server.port());
  json original = wait_finished(c, parse(submit(c, kRequest))["id"]);
  json request = kRequest;
  request["variation_of"] = {{"job", original["id"]}, {"rank", 2}};
  request["seed"] = 1000;
  auto r = submit(c, request);
  ASSERT_EQ(r->status, 202) << r->body;
  json variation = wait_finished(c, parse(r)["id"]);
  EXPECT_EQ(variation["status"], "done");
  EXPECT_EQ(variation["settings"]["init_codes_given"], 16);

  request["variation_of"] = {{"job", "0123456789abcdef"}, {"rank", 0}};
  auto missing = submit(c, request);
  EXPECT_EQ(missing->status, 400);
  EXPECT_EQ(parse(missing)["field"], "variation_of");
  request["variation_of"] = "../../etc/passwd";
  EXPECT_EQ(parse(submit(c, request))["field"], "variation_of");
  request["variation_of"] = {{"job", original["id"]}, {"rank", -1}};
  EXPECT_EQ(submit(c, request)->status, 400);
}

TEST(PipelineServer, KeepsFinishedResultsForABoundedCountAndTime) {
  ServerOptions options;
  options.queue.keep_results = 2;
  TestServer server(fake_factory(), options);
  auto c = client_for(server.port());
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(wait_finished(c, parse(submit(c, kRequest))["id"])["id"]);
  EXPECT_EQ(c.Get(("/v1/jobs/" + ids[0]).c_str())->status, 404);
  EXPECT_EQ(c.Get(("/v1/jobs/" + ids[1]).c_str())->status, 404);
  EXPECT_EQ(c.Get(("/v1/jobs/" + ids[3]).c_str())->status, 200);
  EXPECT_EQ(parse(c.Get("/health"))["queue"]["finished_kept"], 2);

  ServerOptions no_time;
  no_time.queue.keep_for = 0s;
  TestServer brief(fake_factory(), no_time);
  auto b = client_for(brief.port());
  std::string id = parse(submit(b, kRequest))["id"];
  wait_until([&] { return brief.server().jobs().stats()["finished_total"] == 1; });
  submit(b, kRequest);  // any later request drops results past their time
  EXPECT_EQ(b.Get(("/v1/jobs/" + id).c_str())->status, 404);
}

TEST(PipelineServer, StopEndsEventStreamsAndCancelsJobs) {
  auto gate = std::make_shared<Gate>();
  auto server = std::make_unique<TestServer>(fake_factory(gated(gate)));
  auto c = client_for(server->port());
  json job = parse(submit(c, kRequest));
  wait_until([&] { return gate->waiting == 1; });
  std::string stream;
  std::thread listener([&] {
    auto events = client_for(server->port());
    events.Get(job["events"].get<std::string>().c_str(), [&](const char* data, size_t size) {
      stream.append(data, size);
      return true;
    });
  });
  wait_until([&] { return !stream.empty(); });
  server->server().stop();
  listener.join();
  EXPECT_NE(stream.find("event: cancelled"), std::string::npos) << stream;
  EXPECT_EQ(server->server().jobs().get(job["id"])->status, JobStatus::cancelled);
  server.reset();
}

}  // namespace
}  // namespace couture


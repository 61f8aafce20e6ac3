// `couture serve` as a client sees it: the JSON API (submit, poll, events, images, cancel, config), its limits (413,
// 429, 400 naming the field, 404), the abuse a public endpoint gets (malformed JSON, huge numbers, oversize and
// invalid-UTF-8 bodies, paths, slow clients). The server runs in-process on 127.0.0.1 with an ephemeral port and a
// fake generator. The load tests are in serve_server_load_test.cpp.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <thread>

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

// A plain TCP connection to the server (-1 on failure), for what a client library would not send.
int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  ::close(fd);
  return -1;
}

// Sends raw bytes and returns the server's answer.
std::string raw_exchange(int port, const std::string& bytes, int read_timeout_s = 10) {
  int fd = connect_loopback(port);
  if (fd < 0) return "";
  timeval tv{read_timeout_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  for (size_t sent = 0; sent < bytes.size();) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += size_t(n);
  }
  // Until the server closes, or the whole answer is in (the server may keep the connection for another request).
  std::string answer;
  char buffer[4096];
  auto complete = [&] {
    auto head_end = answer.find("\r\n\r\n");
    if (head_end == std::string::npos) return false;
    auto at = answer.find("Content-Length: ");
    return at != std::string::npos && at < head_end &&
           answer.size() >= head_end + 4 + std::stoul(answer.substr(at + 16));
  };
  for (ssize_t n; !complete() && (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) answer.append(buffer, size_t(n));
  ::close(fd);
  return answer;
}

int status_of(const std::string& answer) {  // "HTTP/1.1 400 Bad Request" -> 400
  return answer.size() > 12 ? std::atoi(answer.c_str() + 9) : 0;
}

std::string body_of(const std::string& answer) {
  auto at = answer.find("\r\n\r\n");
  return at == std::string::npos ? "" : answer.substr(at + 4);
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
  // Nothing recognised is an answer, not an error; bad prompts are 400s naming the field; JSON only.
  r = understand({{"prompt", "hello"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(json::parse(r->body)["attributes"].empty());
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
                                      {"cond_scale", 3.0}}));
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
  auto r = submit(c, big);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(parse(r)["error"].get<std::string>().find("65536 bytes"), std::string::npos) << r->body;

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
                                          "/nope",                            "/v1/generate"};
  for (const auto& path : paths) {
    auto r = c.Get(path.c_str());
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path;
    EXPECT_TRUE(parse(r).contains("error")) << path << ": " << r->body;
  }
  EXPECT_EQ(c.Delete("/v1/jobs/0123456789abcdef")->status, 404);
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

// Every abusive request gets a 4xx with a JSON message (never a 5xx, a crash or a hang), and the server stays up.
TEST(PipelineServer, AbuseGets4xxWithAClearMessage) {
  ServerOptions options;
  options.io_timeout = 2s;  // a body announced but never sent is answered after this
  TestServer server(fake_factory(), options);
  int port = server.port();
  auto c = client_for(port);

  auto post_raw = [&](const std::string& body, const std::string& type = "application/json") {
    return raw_exchange(port, "POST /v1/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + type +
                                  "\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) +
                                  "\r\n\r\n" + body);
  };
  auto get_raw = [&](const std::string& target) {
    return raw_exchange(port, "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  };
  auto get_with_host = [&](const std::string& host) {
    return raw_exchange(port, "GET /health HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
  };
  std::string nested = std::string(20000, '[') + std::string(20000, ']');
  std::string hangul;
  for (int i = 0; i < 10000; ++i) hangul += "옷";
  struct Case {
    std::string name, answer;
  };
  std::vector<Case> cases = {
      {"empty body", post_raw("")},
      {"malformed JSON", post_raw("{\"prompt\": ")},
      {"not JSON", post_raw("prompt=hello")},
      {"trailing garbage", post_raw("{\"prompt\": \"a\"} x")},
      {"JSON array", post_raw("[1, 2, 3]")},
      {"JSON string", post_raw("\"상의\"")},
      {"deep nesting", post_raw(nested)},
      {"huge number", post_raw(R"({"prompt": "a", "n": 1e400})")},
      {"huge integer", post_raw(R"({"prompt": "a", "n": 99999999999999999999999999})")},
      {"huge seed", post_raw(R"({"prompt": "a", "seed": 18446744073709551616})")},
      {"negative n", post_raw(R"({"prompt": "a", "n": -4})")},
      {"n as string", post_raw(R"({"prompt": "a", "n": "4"})")},
      {"prompt as object", post_raw(R"({"prompt": {"text": "a"}})")},
      {"null prompt", post_raw(R"({"prompt": null})")},
      {"10000-character prompt", post_raw(json({{"prompt", std::string(10000, 'x')}}).dump())},
      {"10000 Hangul characters", post_raw(json({{"prompt", hangul}}).dump())},
      {"invalid UTF-8", post_raw("{\"prompt\": \"\xff\xfe\xfd\"}")},
      {"overlong UTF-8", post_raw("{\"prompt\": \"\xc0\xaf\"}")},
      {"escaped lone surrogate", post_raw(R"({"prompt": "\ud800"})")},
      {"NUL in prompt", post_raw(R"({"prompt": "a\u0000b"})")},
      {"unknown field", post_raw(R"({"prompt": "a", "model_dir": "/etc"})")},
      {"output path", post_raw(R"({"prompt": "a", "output": "../../tmp/x.png"})")},
      {"absolute path as codes", post_raw(R"({"prompt": "a", "init_codes": "/etc/passwd"})")},
      {"path as variation", post_raw(R"({"prompt": "a", "variation_of": "../jobs/x"})")},
      {"text/plain body", post_raw(kRequest.dump(), "text/plain")},
      {"form body", post_raw("prompt=a", "application/x-www-form-urlencoded")},
      {"oversize body", post_raw(std::string(100 * 1024, ' '))},
      {"lying Content-Length", raw_exchange(port, "POST /v1/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                                                  "application/json\r\nContent-Length: 999999999\r\n\r\n{}")},
      {"parent directories", get_raw("/../../../../etc/passwd")},
      {"encoded parent directories", get_raw("/%2e%2e/%2e%2e/etc/passwd")},
      {"absolute path", get_raw("/etc/passwd")},
      {"job path traversal", get_raw("/v1/jobs/../../etc/passwd")},
      {"image path traversal", get_raw("/v1/jobs/0123456789abcdef/images/../../../etc/passwd")},
      {"image by file name", get_raw("/v1/jobs/0123456789abcdef/images/%2Fetc%2Fpasswd")},
      {"query with a path", get_raw("/health/../v1/jobs?file=/etc/passwd")},
      {"long URI", get_raw("/" + std::string(20000, 'a'))},
      {"bad request line", raw_exchange(port, "HELLO\r\n\r\n")},
      {"unknown method", raw_exchange(port, "BREW /v1/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")},
      {"foreign Host", raw_exchange(port, "GET /health HTTP/1.1\r\nHost: evil.example:80\r\nConnection: close\r\n\r\n")},
      {"rebinding 127.evil", get_with_host("127.evil.example.com")},
      {"rebinding nip.io", get_with_host("127.0.0.1.nip.io")},
      {"rebinding localhost.", get_with_host("localhost.evil.example")},
      {"Host with a bad port", get_with_host("127.0.0.1:80x")},
      {"Host after ]", get_with_host("[::1]evil")},
      {"POST via rebinding", raw_exchange(port, "POST /v1/generate HTTP/1.1\r\nHost: 127.0.0.1.nip.io\r\n"
                                                "Content-Type: application/json\r\nContent-Length: 13\r\n"
                                                "Connection: close\r\n\r\n{\"prompt\":\"a\"}")},
  };
  for (const auto& [name, answer] : cases) {
    int status = status_of(answer);
    std::printf("%-28s -> %s\n", name.c_str(), answer.substr(0, answer.find('\r')).c_str());
    EXPECT_TRUE(status >= 400 && status < 500) << name << ": " << answer.substr(0, 300);
    json body = json::parse(body_of(answer), nullptr, false);
    EXPECT_TRUE(body.is_object() && body["error"].is_string() && !body["error"].get<std::string>().empty())
        << name << ": " << answer.substr(0, 300);
  }
  // Still answering, and nothing was queued by any of it.
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(parse(health)["queue"]["submitted_total"], 0);
}

// VmRSS of this process (the server runs in it), in bytes.
int64_t resident_bytes() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  return -1;
}

// cpp-httplib reads a chunked body whole, whatever its size: such bodies are refused (411) from the headers, and
// sending 256 MB of chunks leaves the server's memory where it was.
TEST(PipelineServer, ChunkedBodiesAreRefusedUnread) {
  TestServer server(fake_factory(), {});
  const int port = server.port();
  const std::string head = "POST /v1/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n";
  const auto answer = raw_exchange(port, head + "d\r\n{\"prompt\":\"a\"}\r\n0\r\n\r\n");
  EXPECT_EQ(status_of(answer), 411) << answer.substr(0, 300);
  EXPECT_NE(body_of(answer).find("Content-Length"), std::string::npos) << answer;

  const int64_t before = resident_bytes();
  const int fd = connect_loopback(port);
  ASSERT_GE(fd, 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ::send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  const std::string chunk = "100000\r\n" + std::string(1 << 20, 'x') + "\r\n";  // 1 MB chunks
  int64_t sent = 0;
  for (int i = 0; i < 256; ++i) {
    const ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n <= 0) break;  // the server has closed the connection: the rest is never read
    sent += n;
  }
  ::close(fd);
  const int64_t after = resident_bytes();
  std::printf("sent %lld bytes of chunks; resident %lld -> %lld MB\n", (long long)sent, (long long)(before >> 20),
              (long long)(after >> 20));
  EXPECT_LT(after - before, int64_t(32) << 20);
  auto health = client_for(port).Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

// A loopback server answers to loopback names and addresses in every form, and to names given with --allow-host;
// the rebinding forms are refused in AbuseGets4xxWithAClearMessage.
TEST(PipelineServer, LoopbackHostsAndAllowedNamesAreAnswered) {
  ServerOptions options;
  options.allowed_hosts = {"Studio.LAN"};
  TestServer server(fake_factory(), options);
  const int port = server.port();
  for (const std::string& host : std::vector<std::string>{"127.0.0.1", "127.0.0.1:" + std::to_string(port),
                                                         "127.8.9.10", "localhost", "LOCALHOST:80", "[::1]",
                                                         "[::1]:8080", "studio.lan", "studio.lan:8080"}) {
    const auto answer =
        raw_exchange(port, "GET /health HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(status_of(answer), 200) << host << ": " << answer.substr(0, 200);
  }
  for (const std::string host : {"studio.lan.evil.example", "evil.studio.lan", "128.0.0.1", "0x7f.0.0.1"}) {
    const auto answer =
        raw_exchange(port, "GET /health HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(status_of(answer), 403) << host << ": " << answer.substr(0, 200);
  }
}

// A client that sends its headers a byte at a time holds one connection, not the server.
TEST(PipelineServer, SlowClientsDoNotBlockOthers) {
  ServerOptions options;
  options.io_timeout = 2s;
  TestServer server(fake_factory(), options);
  int port = server.port();
  std::atomic<bool> stop{false};
  std::vector<std::thread> slow;
  std::vector<std::string> answers(4);
  for (int k = 0; k < 4; ++k) {
    slow.emplace_back([&, k] {
      int fd = connect_loopback(port);
      if (fd < 0) return;
      // Byte after byte, then silence: the server must drop it after io_timeout.
      std::string head = "POST /v1/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 40\r\n";
      for (size_t i = 0; i < head.size() && !stop; ++i) {
        if (::send(fd, &head[i], 1, MSG_NOSIGNAL) != 1) break;
        std::this_thread::sleep_for(20ms);
      }
      timeval tv{20, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      char buffer[1024];
      ssize_t n;
      while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) answers[size_t(k)].append(buffer, size_t(n));
      answers[size_t(k)] += n == 0 ? "<closed>" : "<timed out>";
      ::close(fd);
    });
  }
  auto c = client_for(port);
  for (int i = 0; i < 20; ++i) {
    auto r = c.Get("/health");
    ASSERT_TRUE(r) << "request " << i << " failed while slow clients were connected";
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(wait_finished(c, parse(submit(c, kRequest))["id"])["status"], "done");
  stop = true;
  for (auto& t : slow) t.join();
  for (const auto& answer : answers) EXPECT_NE(answer.find("<closed>"), std::string::npos) << answer;
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


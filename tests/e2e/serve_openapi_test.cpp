// GET /openapi.json describes the API as the server really answers it: every documented route and method, asked
// with a valid request, answers a documented status, and its JSON holds the fields the schema requires; every
// method a documented path does not list is refused with 405 and an Allow header naming exactly the documented
// ones. In-process on 127.0.0.1 with the fake generator and a gallery.
#include <gtest/gtest.h>

#include <set>

#include "support/studio_client.h"
#include "support/studio_server.h"
#include "support/temp_dir.h"

namespace couture {
namespace {

using testing::client_for;
using testing::fake_factory;
using testing::json;
using testing::parse;
using testing::submit;
using testing::TempDir;
using testing::TestServer;
using testing::wait_finished;

// The schema a `$ref` ("#/components/schemas/Job") points at.
const json& resolve(const json& doc, const json& schema) {
  if (!schema.contains("$ref")) return schema;
  std::string ref = schema["$ref"];
  const json* at = &doc;
  for (size_t start = 2; start < ref.size();) {
    const size_t slash = std::min(ref.find('/', start), ref.size());
    at = &at->at(ref.substr(start, slash - start));
    start = slash + 1;
  }
  return *at;
}

TEST(ServeOpenApi, TheDescriptionMatchesTheServersAnswers) {
  TempDir data;
  ServerOptions options;
  options.data_dir = data.path();
  TestServer server(fake_factory(), options);
  auto c = client_for(server.port());

  auto got = c.Get("/openapi.json");
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200);
  EXPECT_EQ(got->get_header_value("Content-Type"), "application/json");
  const json doc = parse(got);
  ASSERT_TRUE(doc.is_object()) << "not JSON";
  EXPECT_EQ(doc["openapi"], "3.0.3");

  const std::string id = parse(submit(c, {{"prompt", "남색 셔츠"}, {"n", 4}, {"top", 2}, {"seed", 5}}))["id"];
  ASSERT_EQ(wait_finished(c, id)["status"], "done");
  const std::map<std::string, json> bodies = {
      {"/v1/generate", {{"prompt", "빨간 줄무늬 티셔츠"}, {"n", 4}}},
      {"/v1/understand", {{"prompt", "노란 땡땡이 원피스"}}},
      {"/v1/jobs/{id}", {{"favourite", true}}},
  };
  int asked = 0;
  std::vector<std::pair<std::string, std::string>> deletes;  // asked last: they remove the job
  for (const auto& [path, item] : doc["paths"].items()) {
    std::string url = path;
    if (auto at = url.find("{id}"); at != std::string::npos) url.replace(at, 4, id);
    if (auto at = url.find("{rank}"); at != std::string::npos) url.replace(at, 6, "0");
    std::set<std::string> documented;
    for (const auto& [method, operation] : item.items()) {
      if (method == "parameters") continue;
      documented.insert(method);
      if (method == "delete") {
        deletes.push_back({path, url});
        continue;
      }
      const std::string body = bodies.count(path) ? bodies.at(path).dump() : "{}";
      ASSERT_TRUE(method == "get" || method == "post" || method == "patch") << "a method the test does not know: "
                                                                             << method << " " << path;
      auto r = method == "get"    ? c.Get(url)
               : method == "post" ? c.Post(url, body, "application/json")
                                  : c.Patch(url, body, "application/json");
      ASSERT_TRUE(r) << method << " " << url;
      ++asked;
      const std::string status = std::to_string(r->status);
      ASSERT_TRUE(operation["responses"].contains(status))
          << method << " " << path << " answered " << status << ", not documented: " << r->body.substr(0, 200);
      const json& response = resolve(doc, operation["responses"][status]);
      if (!response.contains("content") || !response["content"].contains("application/json")) continue;
      const json& schema = resolve(doc, response["content"]["application/json"]["schema"]);
      const json answer = parse(r);
      ASSERT_TRUE(answer.is_object()) << method << " " << path << ": " << r->body.substr(0, 200);
      for (const auto& field : schema.value("required", json::array()))
        EXPECT_TRUE(answer.contains(field.get<std::string>())) << method << " " << path << " lacks " << field;
    }
    // What is not documented is refused, and Allow names exactly what is.
    for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
      std::string lower = method;
      for (char& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
      if (documented.count(lower)) continue;
      httplib::Request req;
      req.method = method;
      req.path = url;
      auto r = c.send(req);
      ASSERT_TRUE(r) << method << " " << url;
      EXPECT_EQ(r->status, 405) << method << " " << path;
      std::set<std::string> allowed;
      std::string allow = r->get_header_value("Allow");
      for (size_t start = 0; start < allow.size();) {
        const size_t comma = std::min(allow.find(", ", start), allow.size());
        std::string m = allow.substr(start, comma - start);
        for (char& ch : m) ch = char(std::tolower(static_cast<unsigned char>(ch)));
        if (m != "head") allowed.insert(m);
        start = comma + 2;
      }
      EXPECT_EQ(allowed, documented) << path << ": Allow " << allow;
    }
  }
  for (const auto& [path, url] : deletes) {
    auto r = c.Delete(url);
    ASSERT_TRUE(r);
    EXPECT_TRUE(doc["paths"][path]["delete"]["responses"].contains(std::to_string(r->status))) << r->status;
    ++asked;
  }
  EXPECT_GE(asked, 14);  // every route and method of the API
}

}  // namespace
}  // namespace couture

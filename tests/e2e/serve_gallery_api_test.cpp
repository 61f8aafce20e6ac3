// The gallery through the API, as the studio uses it: finished jobs are listed newest first and paged, searched,
// marked favourite, and still there, images and contact sheet included, after the server restarts; a past job can
// be varied and deleted. In-process on 127.0.0.1 with the fake generator.
#include <gtest/gtest.h>

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

json request(const std::string& prompt, int seed) { return {{"prompt", prompt}, {"n", 4}, {"top", 2}, {"seed", seed}}; }

TEST(ServeGallery, JobsLastAcrossARestartAndArePagedSearchedAndDeleted) {
  TempDir dir;
  ServerOptions options;
  options.data_dir = dir.path();
  std::string red, navy;
  {
    TestServer server(fake_factory(), options);
    auto c = client_for(server.port());
    red = parse(submit(c, request("빨간 줄무늬 티셔츠", 1)))["id"];
    ASSERT_EQ(wait_finished(c, red)["status"], "done");
    navy = parse(submit(c, request("남색 셔츠", 2)))["id"];
    ASSERT_EQ(wait_finished(c, navy)["status"], "done");

    auto all = parse(c.Get("/v1/jobs"));
    EXPECT_EQ(all["gallery"], true);
    EXPECT_EQ(all["total"], 2);
    ASSERT_EQ(all["items"].size(), 2u);
    EXPECT_EQ(all["items"][0]["id"], navy);  // newest first
    EXPECT_EQ(all["items"][1]["results"].size(), 4u);
    EXPECT_EQ(all["items"][1]["understood"]["attributes"]["색상"], "레드");
    EXPECT_TRUE(all["active"].empty());
    EXPECT_TRUE(all["next"].is_null());

    auto first = parse(c.Get("/v1/jobs?limit=1"));
    ASSERT_EQ(first["items"].size(), 1u);
    EXPECT_EQ(first["items"][0]["id"], navy);
    ASSERT_TRUE(first["next"].is_string()) << first.dump();
    auto second = parse(c.Get(first["next"].get<std::string>()));
    ASSERT_EQ(second["items"].size(), 1u);
    EXPECT_EQ(second["items"][0]["id"], red);

    // Search by words (percent-encoded, as a browser sends them) and by what the prompt was read as.
    auto words = parse(c.Get("/v1/jobs?q=%EC%A4%84%EB%AC%B4%EB%8A%AC"));  // 줄무늬
    ASSERT_EQ(words["total"], 1) << words.dump();
    EXPECT_EQ(words["items"][0]["id"], red);
    auto by_colour = parse(c.Get("/v1/jobs?colour=%EB%84%A4%EC%9D%B4%EB%B9%84"));  // 네이비 (남색)
    ASSERT_EQ(by_colour["total"], 1) << by_colour.dump();
    EXPECT_EQ(by_colour["items"][0]["id"], navy);

    auto fav = c.Patch("/v1/jobs/" + red, R"({"favourite": true})", "application/json");
    ASSERT_TRUE(fav);
    EXPECT_EQ(fav->status, 200) << fav->body;
    EXPECT_EQ(parse(fav)["favourite"], true);
    EXPECT_EQ(c.Patch("/v1/jobs/" + red, R"({"favourite": 1})", "application/json")->status, 400);
    EXPECT_EQ(c.Patch("/v1/jobs/0123456789abcdef", R"({"favourite": true})", "application/json")->status, 404);

    for (const char* bad : {"/v1/jobs?limit=0", "/v1/jobs?limit=abc", "/v1/jobs?offset=-1", "/v1/jobs?favourite=2",
                            "/v1/jobs?sort=new", "/v1/jobs?q=%zz"}) {
      auto r = c.Get(bad);
      ASSERT_TRUE(r) << bad;
      EXPECT_EQ(r->status, 400) << bad << " " << r->body;
    }
    EXPECT_EQ(parse(c.Get("/v1/jobs?limit=abc"))["field"], "limit");
  }

  // A new server on the same folder: everything is still there.
  TestServer server(fake_factory(), options);
  auto c = client_for(server.port());
  auto all = parse(c.Get("/v1/jobs"));
  EXPECT_EQ(all["total"], 2);
  EXPECT_EQ(parse(c.Get("/v1/jobs?favourite=true"))["items"][0]["id"], red);
  auto job = parse(c.Get("/v1/jobs/" + red));
  EXPECT_EQ(job["status"], "done");
  EXPECT_EQ(job["prompt"], "빨간 줄무늬 티셔츠");
  for (const std::string path : {job["results"][0]["url"].get<std::string>(), job["contact"].get<std::string>()}) {
    auto png = c.Get(path);
    ASSERT_TRUE(png) << path;
    EXPECT_EQ(png->status, 200) << path;
    EXPECT_EQ(png->get_header_value("Content-Type"), "image/png") << path;
    EXPECT_EQ(png->body.substr(1, 3), "PNG") << path;
  }
  // Variations of a job made before the restart.
  auto varied = submit(c, {{"prompt", "빨간 줄무늬 티셔츠"}, {"n", 4}, {"variation_of", {{"job", red}, {"rank", 0}}}});
  ASSERT_TRUE(varied);
  ASSERT_EQ(varied->status, 202) << varied->body;
  EXPECT_EQ(wait_finished(c, parse(varied)["id"])["status"], "done");

  auto deleted = c.Delete("/v1/jobs/" + red);
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->status, 200);
  EXPECT_EQ(parse(deleted)["deleted"], true);
  EXPECT_EQ(c.Get("/v1/jobs/" + red)->status, 404);
  EXPECT_EQ(c.Get("/v1/jobs/" + red + "/images/0.png")->status, 404);
  EXPECT_EQ(c.Delete("/v1/jobs/" + red)->status, 404);
  EXPECT_EQ(parse(c.Get("/v1/jobs"))["total"], 2);  // navy and the variation
}

TEST(ServeGallery, WithoutAGalleryTheListIsEmptyAndSaysSo) {
  TestServer server(fake_factory());
  auto c = client_for(server.port());
  auto id = parse(submit(c, request("블랙 코트", 3)))["id"].get<std::string>();
  ASSERT_EQ(wait_finished(c, id)["status"], "done");
  auto all = parse(c.Get("/v1/jobs"));
  EXPECT_EQ(all["gallery"], false);
  EXPECT_EQ(all["total"], 0);
  EXPECT_EQ(c.Get("/v1/jobs/" + id)->status, 200);  // in memory still
  EXPECT_EQ(c.Patch("/v1/jobs/" + id, R"({"favourite": true})", "application/json")->status, 404);
}

}  // namespace
}  // namespace couture

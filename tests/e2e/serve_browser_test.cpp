// The studio in a real browser: Debian's headless chromium, driven by playwright-core (tests/e2e/browser/studio.mjs),
// opens the page served in-process and checks it against GET /v1/config (the pickers' sentences, the swatch colour,
// the starting settings, the counter stopping at the prompt limit), types a prompt, presses Ctrl+Enter and waits for
// four images; the screenshot is saved in the build folder (browser-studio.png). Then all candidates, the PNG link
// and a variation. mobile.mjs does it on a 390 px screen by keyboard alone; gallery.mjs runs on two servers in turn
// over one data folder (the gallery survives the restart); recovery.mjs follows a job while the server stops.
// Skipped, saying what to install, without chromium, node or playwright-core.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include "io/image.h"
#include "support/free_port.h"
#include "support/run_command.h"
#include "serve/gallery.h"
#include "support/studio_server.h"
#include "support/temp_dir.h"

namespace couture {
namespace {

namespace fs = std::filesystem;

const fs::path browser_dir = fs::path(COUTURE_SOURCE_DIR) / "tests/e2e/browser";

// Why the browser tests cannot run here, or "".
std::string missing_browser() {
  const char* chromium = std::getenv("CHROMIUM") ? std::getenv("CHROMIUM") : "/usr/bin/chromium";
  if (!fs::exists(chromium)) return std::string("no ") + chromium + ": apt-get install chromium";
  if (testing::run_command("node --version").status != 0) return "no node: apt-get install nodejs";
  if (!fs::exists(browser_dir / "node_modules/playwright-core"))
    return "no playwright-core: run `npm ci` in " + browser_dir.string();
  return "";
}

TEST(PipelineBrowser, StudioShowsFourImagesAfterCtrlEnter) {
  if (auto why = missing_browser(); !why.empty()) GTEST_SKIP() << why;

  testing::TestServer server(testing::studio_generator_factory());
  const fs::path screenshot = fs::canonical("/proc/self/exe").parent_path() / "browser-studio.png";
  fs::remove(screenshot);
  auto run = testing::run_command("node " + (browser_dir / "studio.mjs").string() + " " + server.url() + " " +
                                  screenshot.string());
  std::printf("%s", run.output.c_str());
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("4 images shown"), std::string::npos);

  // One submission from Ctrl+Enter, one for the variation and one for the uploaded picture (the refused file never
  // left the page), and a real screenshot of the page.
  EXPECT_EQ(server.server().jobs().stats()["submitted_total"], 3);
  ASSERT_TRUE(fs::exists(screenshot));
  Image shot = read_image(screenshot);
  EXPECT_EQ(shot.width, 1280);
  EXPECT_GE(shot.height, 860);
}

TEST(PipelineBrowser, APhoneScreenAndTheKeyboardAlone) {
  if (auto why = missing_browser(); !why.empty()) GTEST_SKIP() << why;
  testing::TestServer server(testing::studio_generator_factory());
  const fs::path screenshot = fs::canonical("/proc/self/exe").parent_path() / "browser-studio-390.png";
  fs::remove(screenshot);
  auto run = testing::run_command("node " + (browser_dir / "mobile.mjs").string() + " " + server.url() + " " +
                                  screenshot.string());
  std::printf("%s", run.output.c_str());
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("fits 390 px before and after results"), std::string::npos);
  Image shot = read_image(screenshot);
  EXPECT_EQ(shot.width, 390);  // a full-page screenshot as wide as the screen: nothing sticks out sideways
}

TEST(PipelineBrowser, TheGallerySurvivesARestart) {
  if (auto why = missing_browser(); !why.empty()) GTEST_SKIP() << why;
  testing::TempDir data;
  ServerOptions options;
  options.data_dir = data.path();
  auto gallery = [&](const char* phase) {
    testing::TestServer server(testing::studio_generator_factory(), options);
    auto run =
        testing::run_command("node " + (browser_dir / "gallery.mjs").string() + " " + server.url() + " " + phase);
    std::printf("%s", run.output.c_str());
    return run;
  };
  auto made = gallery("make");
  ASSERT_EQ(made.status, 0) << made.output;
  EXPECT_EQ(Gallery(data.path()).size(), 1);
  auto checked = gallery("check");  // a new server on the same folder
  ASSERT_EQ(checked.status, 0) << checked.output;
  EXPECT_NE(checked.output.find("listed after the restart"), std::string::npos) << checked.output;
  EXPECT_EQ(Gallery(data.path()).size(), 0);  // the page deleted it
}

TEST(PipelineBrowser, AServerThatStopsMidJobIsSaidSoAndGenerateWorksAgain) {
  if (auto why = missing_browser(); !why.empty()) GTEST_SKIP() << why;
  testing::FakeOptions fake;
  fake.gate = std::make_shared<testing::Gate>();  // holds the job running until the server stops
  auto server = std::make_unique<testing::TestServer>(testing::fake_factory(fake));
  auto page = std::async(std::launch::async, [url = server->url()] {
    return testing::run_command("node " + (browser_dir / "recovery.mjs").string() + " " + url);
  });
  for (int i = 0; i < 600 && fake.gate->waiting == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(fake.gate->waiting, 1) << "the page's job never ran";
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the page is following it by its event stream
  server->server().stop();  // as on SIGTERM: jobs cancelled, streams told, then closed
  auto run = page.get();
  std::printf("%s", run.output.c_str());
  EXPECT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("Generate works again"), std::string::npos) << run.output;
}

TEST(PipelineBrowser, BehindAnApiKeyTheLinkWithTheKeyOpensTheStudio) {
  if (auto why = missing_browser(); !why.empty()) GTEST_SKIP() << why;
  ServerOptions options;
  options.api_key = "k3y-for-the-browser.0123";
  testing::TestServer server(testing::studio_generator_factory(), options);
  auto run = testing::run_command("node " + (browser_dir / "apikey.mjs").string() + " " + server.url() + " " +
                                  options.api_key);
  std::printf("%s", run.output.c_str());
  EXPECT_EQ(run.status, 0) << run.output;
  EXPECT_EQ(server.server().jobs().stats()["submitted_total"], 1);
}

// SIGKILL leaves no goodbye: the real `couture serve` (default bundle) is killed while the page follows a job, and
// a new one started on the same port; killed.mjs runs both servers itself.
TEST(PipelineBrowser, AKilledServerIsSaidSoAndTheRestartLosesTheJob) {
  if (auto why = missing_browser(); !why.empty()) GTEST_SKIP() << why;
  const fs::path model = fs::path(COUTURE_SOURCE_DIR) / "models/default";
  auto run = testing::run_command("node " + (browser_dir / "killed.mjs").string() + " " + COUTURE_BINARY + " " +
                                  model.string() + " " + std::to_string(testing::free_tcp_port()));
  std::printf("%s", run.output.c_str());
  EXPECT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("Generate works again"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace couture

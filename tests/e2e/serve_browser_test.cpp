// The studio in a real browser: Debian's headless chromium, driven by playwright-core (tests/e2e/browser/studio.mjs),
// opens the page served in-process and checks it against GET /v1/config (the pickers' sentences, the swatch colour,
// the starting settings, the counter stopping at the prompt limit), types a prompt, presses Ctrl+Enter and waits for
// four images; the screenshot is saved in the build folder (browser-studio.png). Then all candidates, the PNG link
// and a variation. Skipped, saying what to install, without chromium, node or playwright-core.
#include <gtest/gtest.h>

#include <filesystem>

#include "io/image.h"
#include "support/run_command.h"
#include "support/studio_server.h"

namespace couture {
namespace {

namespace fs = std::filesystem;

TEST(PipelineBrowser, StudioShowsFourImagesAfterCtrlEnter) {
  const fs::path browser_dir = fs::path(COUTURE_SOURCE_DIR) / "tests/e2e/browser";
  const char* chromium = std::getenv("CHROMIUM") ? std::getenv("CHROMIUM") : "/usr/bin/chromium";
  if (!fs::exists(chromium)) GTEST_SKIP() << "no " << chromium << ": apt-get install chromium";
  if (testing::run_command("node --version").status != 0) GTEST_SKIP() << "no node: apt-get install nodejs";
  if (!fs::exists(browser_dir / "node_modules/playwright-core"))
    GTEST_SKIP() << "no playwright-core: run `npm ci` in " << browser_dir.string();

  testing::TestServer server(testing::studio_generator_factory());
  const fs::path screenshot = fs::canonical("/proc/self/exe").parent_path() / "browser-studio.png";
  fs::remove(screenshot);
  auto run = testing::run_command("node " + (browser_dir / "studio.mjs").string() + " " + server.url() + " " +
                                  screenshot.string());
  std::printf("%s", run.output.c_str());
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("4 images shown"), std::string::npos);

  // One submission from Ctrl+Enter and one for the variation, and a real screenshot of the page.
  EXPECT_EQ(server.server().jobs().stats()["submitted_total"], 2);
  ASSERT_TRUE(fs::exists(screenshot));
  Image shot = read_image(screenshot);
  EXPECT_EQ(shot.width, 1280);
  EXPECT_GE(shot.height, 860);
}

}  // namespace
}  // namespace couture


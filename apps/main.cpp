// couture: Korean fashion descriptions -> candidate clothing designs. One binary, one file per subcommand.
#include <unistd.h>

#include <cstdio>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include "command.h"
#include "core/error.h"
#include "nn/threads.h"

namespace couture::app {
namespace {

struct Registered {
  std::string path, description;
  Setup setup;
};

std::vector<Registered>& registry() {
  static std::vector<Registered> commands;
  return commands;
}

}  // namespace

CommandRegistrar::CommandRegistrar(const char* path, const char* description, Setup setup) {
  registry().push_back({path, description, setup});
}

void add_commands(CLI::App& root) {
  std::map<std::string, CLI::App*> groups;
  // Parents ("prepare") before children ("prepare kfashion"), in a stable order.
  auto commands = registry();
  std::stable_sort(commands.begin(), commands.end(), [](auto& a, auto& b) { return a.path < b.path; });
  for (const auto& c : commands) {
    std::istringstream words(c.path);
    std::vector<std::string> parts;
    for (std::string w; words >> w;) parts.push_back(w);
    CLI::App* parent = &root;
    std::string prefix;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      prefix += parts[i] + " ";
      auto& group = groups[prefix];
      if (!group) {
        group = parent->add_subcommand(parts[i], "");
        group->require_subcommand(1);
      }
      parent = group;
    }
    CLI::App* cmd = parent->add_subcommand(parts.back(), c.description);
    c.setup(*cmd);
  }
}

}  // namespace couture::app

namespace {

std::string first_line(const std::string& text) {
  auto nl = text.find('\n');
  return nl == std::string::npos ? text : text.substr(0, nl);
}

}  // namespace

int main(int argc, char** argv) {
  couture::exec_with_runtime_settings(argv);
  CLI::App app{"couture: Korean fashion descriptions -> candidate clothing designs", "couture"};
  app.option_defaults()->always_capture_default();
  app.require_subcommand(1);
  app.set_version_flag("--version", "couture 0.1.0");
  int threads = 0;
  app.add_option("--threads", threads, "Intra-op threads for LibTorch (0: one per core)")->check(CLI::NonNegativeNumber);
  app.parse_complete_callback([&] { couture::init_torch_threads(threads); });
  couture::app::add_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "couture: error: %s\n", first_line(e.what()).c_str());
    return 1;
  }
  return 0;
}

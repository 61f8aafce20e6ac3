// Subcommand registry: each apps/cmd_*.cpp registers itself with COUTURE_COMMAND("path words", "help") { ... },
// adding its options to `cmd` and a callback that does the work. Errors are thrown as couture::Error and printed
// by main as one line.
#pragma once
#include <CLI/CLI.hpp>

namespace couture::app {

using Setup = void (*)(CLI::App& cmd);

struct CommandRegistrar {
  CommandRegistrar(const char* path, const char* description, Setup setup);
};

// Creates every registered subcommand (nested for paths like "prepare kfashion") under `root`.
void add_commands(CLI::App& root);

}  // namespace couture::app

#define COUTURE_COMMAND_CAT2(a, b) a##b
#define COUTURE_COMMAND_CAT(a, b) COUTURE_COMMAND_CAT2(a, b)
#define COUTURE_COMMAND(path, description)                                                            \
  static void COUTURE_COMMAND_CAT(couture_setup_, __LINE__)(CLI::App & cmd);                          \
  static ::couture::app::CommandRegistrar COUTURE_COMMAND_CAT(couture_registrar_, __LINE__)(          \
      path, description, &COUTURE_COMMAND_CAT(couture_setup_, __LINE__));                             \
  static void COUTURE_COMMAND_CAT(couture_setup_, __LINE__)(CLI::App & cmd)

// couture serve [--host 127.0.0.1] [--port 8080] [--model DIR] [--data DIR] [--queue N] [--keep-results N]
// [--keep-minutes M]: the web studio and its JSON API (docs/serve.md) on one loaded model bundle, with a gallery of
// every finished job under --data. SIGINT and SIGTERM stop it cleanly:
// no new connections, jobs cancelled, event streams ended, open requests answered.
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "command.h"
#include "core/error.h"
#include "core/log.h"
#include "model_dir.h"
#include "generate/generator.h"

#include "serve/gallery.h"
#include "serve/server.h"

namespace {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string model;
  size_t queue = 16;
  size_t keep_results = 32;
  int keep_minutes = 30;
  std::vector<std::string> allow_hosts;
  int max_per_client = 64;
  std::string api_key;
  bool insecure = false;
  std::string data;  // "": the default data folder
  bool no_gallery = false;
  bool bf16 = false, int8 = false;
  std::string decoder = "auto";
};

// Signals only write a byte here; a thread reads it and stops the server (stop() is not async-signal-safe).
int g_signal_pipe[2] = {-1, -1};

void on_signal(int) {
  char byte = 1;
  [[maybe_unused]] ssize_t n = ::write(g_signal_pipe[1], &byte, 1);
}

void serve(const ServeOptions& o) {
  couture::ServerOptions options;
  options.host = o.host;
  options.allowed_hosts = o.allow_hosts;
  options.port = o.port;
  options.queue.max_queued = o.queue;
  options.queue.keep_results = o.keep_results;
  options.queue.keep_for = std::chrono::minutes(o.keep_minutes);
  options.max_connections_per_client = o.max_per_client;
  if (!o.no_gallery) options.data_dir = o.data.empty() ? couture::default_data_dir() : std::filesystem::path(o.data);
  options.api_key = o.api_key.empty() && std::getenv("COUTURE_API_KEY") ? std::getenv("COUTURE_API_KEY") : o.api_key;
  couture::check_api_key(options.api_key);
  // Checked before the model loads: a studio on the network answers anyone who can reach it.
  COUTURE_CHECK_INPUT(couture::is_loopback_host(o.host) || !options.api_key.empty() || o.insecure, "--host ", o.host,
                      " lets other machines use the studio: give it an --api-key (or COUTURE_API_KEY), or add "
                      "--insecure to serve them without one");

  const std::string model = o.model.empty() ? couture::app::default_model_dir() : o.model;
  auto generator = couture::load_generator(
      {.model_dir = model, .bf16 = o.bf16, .int8 = o.int8, .decoder = o.decoder});
  std::string model_name = generator->describe().value("name", model);
  couture::StudioServer server(std::move(generator), options);
  server.bind();

  COUTURE_CHECK(::pipe(g_signal_pipe) == 0, "cannot create a pipe for signal handling");
  struct sigaction action {};
  action.sa_handler = on_signal;
  action.sa_flags = SA_RESTART;  // the accept loop carries on until stop() closes its socket
  sigemptyset(&action.sa_mask);
  struct sigaction old_int {}, old_term {};
  ::sigaction(SIGINT, &action, &old_int);
  ::sigaction(SIGTERM, &action, &old_term);
  std::thread watcher([&] {
    char byte;
    while (::read(g_signal_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    server.stop();
  });

  if (!couture::is_loopback_host(o.host) && options.api_key.empty())
    couture::log::warn("listening on " + o.host + " without an API key (--insecure): anyone who can reach this "
                       "address can use the studio");
  std::printf("couture serve: the studio is at %s%s (model %s, %s); Ctrl+C stops it\n", server.url().c_str(),
              options.api_key.empty() ? "" : "?key=<the API key>", model_name.c_str(),
              server.gallery() ? ("gallery " + options.data_dir.string() + ", " +
                                  std::to_string(server.gallery()->size()) + " jobs")
                                     .c_str()
                               : "no gallery");
  std::fflush(stdout);
  server.serve();

  on_signal(0);  // wakes the watcher when serve() ended for another reason
  watcher.join();
  server.stop();
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  ::close(g_signal_pipe[0]);
  ::close(g_signal_pipe[1]);
  std::printf("couture serve: stopped\n");
}

}  // namespace

COUTURE_COMMAND("serve", "The web studio and JSON API on one loaded model (this machine only by default)") {
  static ServeOptions o;
  cmd.add_option("--host", o.host, "Address to listen on (127.0.0.1: this machine only)");
  cmd.add_option("--port", o.port, "Port (0: any free one)")->check(CLI::Range(0, 65535));
  cmd.add_option("--allow-host", o.allow_hosts,
                 "A Host name the studio also answers to (repeatable); others than localhost, 127.x.y.z and ::1 "
                 "get 403");
  cmd.add_option("--model", o.model, "Model bundle folder (default: $COUTURE_MODEL, else models/default)");
  cmd.add_option("--queue", o.queue, "Jobs that may wait for the model; more are answered 429")
      ->check(CLI::Range(1, 10000));
  cmd.add_option("--keep-results", o.keep_results, "Finished jobs whose results stay in memory")
      ->check(CLI::Range(1, 100000));
  cmd.add_option("--keep-minutes", o.keep_minutes, "Minutes a finished job's results stay in memory")
      ->check(CLI::Range(1, 7 * 24 * 60));
  cmd.add_option("--max-connections-per-client", o.max_per_client,
                 "Connections one client address may hold open; more are answered 429 and closed")
      ->check(CLI::Range(1, 100000));
  cmd.add_option("--api-key", o.api_key,
                 "Require this key (Authorization: Bearer KEY; a browser opens /?key=KEY once) for all but /health; "
                 "default $COUTURE_API_KEY");
  cmd.add_option("--data", o.data,
                 "Folder of the gallery, where every finished job is kept (default: $XDG_DATA_HOME/couture, else "
                 "~/.local/share/couture)");
  cmd.add_flag("--no-gallery", o.no_gallery, "Keep no gallery: finished jobs last only as long as --keep-minutes");
  cmd.add_flag("--insecure", o.insecure, "Serve a --host beyond this machine without an API key");
  couture::app::add_load_options(cmd, o.bf16, o.int8, o.decoder);
  cmd.callback([] {
    serve(o);
  });
}

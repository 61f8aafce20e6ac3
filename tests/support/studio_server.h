// A studio server for tests, in-process on 127.0.0.1 with an ephemeral port. The generator comes from a factory:
// studio_generator_factory() is what the studio's end-to-end tests run against (the fake for now; the default
// model bundle once it is built), and tests of limits, cancel and failures pass a FakeGenerator of their own.
#pragma once
#include <functional>
#include <memory>

#include "serve/server.h"
#include "support/fake_generator.h"

namespace couture::testing {

using GeneratorFactory = std::function<std::unique_ptr<Generator>()>;

inline GeneratorFactory fake_factory(FakeOptions options = {}) {
  return [options] { return std::make_unique<FakeGenerator>(options); };
}

inline GeneratorFactory studio_generator_factory() {
  FakeOptions options;
  options.image_size = 128;
  options.steps = 24;
  return fake_factory(options);
}

class TestServer {
 public:
  explicit TestServer(const GeneratorFactory& factory, ServerOptions options = {}) {
    options.host = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<StudioServer>(factory(), options);
    server_->start();
  }
  int port() const { return server_->port(); }
  std::string url() const { return server_->url(); }
  StudioServer& server() { return *server_; }

 private:
  std::unique_ptr<StudioServer> server_;
};

}  // namespace couture::testing

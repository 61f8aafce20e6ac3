// couture prepare fmnist: Couture-FMNIST, Fashion-MNIST's garments colourised and labelled as K-Fashion, ingested
// through the `prepare kfashion` path (docs/data.md).
#include <cstdio>

#include "command.h"
#include "core/progress.h"
#include "data/fmnist_prepare.h"

namespace {

struct Opts {
  std::string out, fmnist = couture::kFashionMnistDir;
  int size = 64;
  int64_t limit = 0;
  uint64_t seed = 0;
};

}  // namespace

COUTURE_COMMAND("prepare fmnist", "Build Couture-FMNIST: colourised Fashion-MNIST garments with K-Fashion labels") {
  static Opts o;
  cmd.add_option("--out", o.out, "Dataset folder to write (re-running resumes)")->required();
  cmd.add_option("--size", o.size, "Side of the square training images")->check(CLI::Range(28, 1024));
  cmd.add_option("--limit", o.limit, "Garments per split (0: all 36000 train, 6000 test)")->check(CLI::NonNegativeNumber);
  cmd.add_option("--seed", o.seed, "Seed of the colours and prints");
  cmd.add_option("--fashion-mnist", o.fmnist, "Folder of Fashion-MNIST's IDX files (Debian: dataset-fashion-mnist)");
  cmd.callback([] {
    couture::FmnistOptions fo;
    fo.out_dir = o.out;
    fo.fmnist_dir = o.fmnist;
    fo.size = o.size;
    fo.limit = o.limit;
    fo.seed = o.seed;
    auto report = couture::prepare_fmnist(fo);
    std::printf("Couture-FMNIST source: train %lld drawn + %lld reused, test %lld drawn + %lld reused in %s\n",
                static_cast<long long>(report.written[0]), static_cast<long long>(report.reused[0]),
                static_cast<long long>(report.written[1]), static_cast<long long>(report.reused[1]),
                couture::Progress::format_duration(report.synth_seconds).c_str());
    std::printf("%s", couture::format_report(report.ingest).c_str());
    if (!report.samples.empty()) std::printf("sample grid: %s\n", report.samples.string().c_str());
  });
}

// couture encode: the VQGAN codes of a prepared dataset (D/codes/S.codes and codes.json), computed once for
// DALL-E training; reused when the codes there were made by the same VQGAN weights.
#include "command.h"
#include "core/log.h"
#include "data/code_shards.h"
#include "train/settings.h"

COUTURE_COMMAND("encode", "Encode a prepared dataset's images into VQGAN codes (D/codes), once for DALL-E training") {
  static couture::EncodeOptions o;
  cmd.add_option("--dataset", o.dataset, "Prepared dataset folder (couture prepare)")->required();
  cmd.add_option("--vqgan", o.vqgan, "A couture train vqgan run folder, or its vqgan.safetensors")->required();
  cmd.add_option("--out", o.out, "Codes folder (default: DATASET/codes)");
  cmd.add_option("--batch", o.batch, "Images per encoder batch")->check(CLI::PositiveNumber);
  cmd.add_option("--device", o.device, "cpu, cuda or cuda:N (where LibTorch has it)");
  cmd.add_flag("--force", o.force, "Encode again even when the codes were made by this VQGAN");
  cmd.callback([] {
    couture::parse_device(o.device);  // a clear error for a device this build lacks
    auto summary = couture::encode_dataset(o);
    std::printf("%s\n", summary.line().c_str());
  });
}

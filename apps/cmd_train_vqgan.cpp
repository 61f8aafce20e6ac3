// couture train vqgan: the image tokenizer, taming's recipe with codebook care.
#include "command.h"
#include "train/vqgan_trainer.h"
#include "train_options.h"

COUTURE_COMMAND("train vqgan", "Train the VQGAN image tokenizer (taming's loss; --vqvae for the VQ-VAE baseline)") {
  static couture::VQGanTrainOptions o;
  o.settings.steps = 6000, o.settings.batch = 16, o.settings.lr = 2e-4, o.settings.warmup = 0;
  couture::app::add_train_options(cmd, o.settings);
  cmd.add_option("--preset", o.preset, "Model preset: fmnist (64 px, f8) or kodalle (256 px, f16)");
  cmd.add_option("--config", o.config, "A VQGAN config JSON (taming's ddconfig names) instead of the preset");
  cmd.add_flag("--vqvae", o.vqvae, "VQ-VAE mode: L1 + codebook only, no perceptual or GAN terms");
  cmd.add_option("--lpips", o.lpips, "LPIPS-VGG weights (safetensors, taming's key names) for the perceptual loss");
  cmd.add_option("--features", o.features, "A `couture train features` run or file for the perceptual loss");
  cmd.add_option("--perceptual-weight", o.perceptual_weight, "Weight of the perceptual term");
  cmd.add_option("--l2-weight", o.l2_weight, "Weight of a squared-error term beside L1 (0: L1 alone, as taming)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--colour-weight", o.colour_weight,
                 "Weight of an L1 term in CIELAB beside L1 in RGB (0: none; docs/vqgan.md)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--disc-start", o.disc_start, "Step at which the GAN terms start (-1: a third of the steps)");
  cmd.add_option("--disc-weight", o.disc_weight, "Scale of the adaptive GAN weight");
  cmd.add_option("--codebook-weight", o.codebook_weight, "Weight of the codebook loss");
  cmd.add_flag("--bf16", o.settings.bf16,
               "bf16 autocast of the forward passes (weights, gradients and Adam stay fp32; docs/vqgan.md)");
  cmd.add_option("--decoder-of", o.decoder_of,
                 "Fine-tune only the decoder of this tokenizer (run or file): codes, and DALL-Es trained on them, "
                 "stay valid");
  cmd.add_flag("--kmeans-init", o.kmeans_init, "Initialise the codebook by k-means over encoder outputs");
  cmd.add_option("--reinit-every", o.reinit_every, "Steps between dead-code re-initialisations (0: never)");
  cmd.add_option("--reinit-until", o.reinit_until, "Fraction of the run during which dead codes are re-initialised");
  cmd.callback([] { couture::train_vqgan(o); });
}

// couture train features: the perceptual network of the VQGAN loss, learnt from the dataset's labels.
#include "command.h"
#include "train/features_trainer.h"
#include "train_options.h"

COUTURE_COMMAND("train features",
                "Train Couture's perceptual network (category, colour and print from images) for the VQGAN loss") {
  static couture::TrainSettings s;
  s.steps = 1500, s.batch = 64, s.lr = 1e-3, s.validate_every = 500, s.sample_every = 0;
  couture::app::add_train_options(cmd, s);
  cmd.callback([] { couture::train_features(s); });
}

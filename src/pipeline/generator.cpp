// Bundle loading is being assembled from the models (issue 8); until then `load_generator` says so clearly.
#include "pipeline/generator.h"

#include "core/error.h"

namespace couture {

std::unique_ptr<Generator> load_generator(const LoadParams& params) {
  throw InputError("model bundle '" + params.model_dir.string() +
                   "': loading bundles is not available in this build yet");
}

}  // namespace couture

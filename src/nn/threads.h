// Start-up for programs that use LibTorch: hooks LibTorch's intra-op pool into couture::set_threads and applies
// `n` threads (0: one per core; Debian's LibTorch otherwise runs on 1).
#pragma once

namespace couture {
void init_torch_threads(int n = 0);
}

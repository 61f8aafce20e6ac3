// Precompiled header for modules that use LibTorch (see CMakeLists.txt). Not included by hand.
#pragma once
#include <torch/torch.h>

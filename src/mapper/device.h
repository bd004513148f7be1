// `--device cpu|cuda` as a torch::Device, refused with one line when CUDA is asked for and absent.
#pragma once

#include <torch/torch.h>

#include <string>

#include "core/error.h"

namespace mm {

inline torch::Device parse_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda") {
    if (!torch::cuda::is_available()) throw Error("--device cuda: no CUDA device is available to this LibTorch");
    return torch::kCUDA;
  }
  throw Error("unknown device '" + name + "' (choose cpu or cuda)");
}

}  // namespace mm

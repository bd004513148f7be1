// The mapper's checkpoint file: a LibTorch archive holding a format tag and version, the MapperConfig
// (JSON), the epochs trained so far, the network's parameters and the optimizer's state (to resume), and
// the parameters of the epoch with the lowest held-out loss (what decompile and eval use). Written
// atomically (temporary file, then rename). A file that is not such a checkpoint, or one for another
// language, is refused with one line saying so.
#pragma once

#include <string>
#include <vector>

#include "mapper/model.h"
#include "mapper/train.h"

namespace mm {

constexpr const char* kMapperFormat = "modelmap-mapper";
constexpr int kMapperFormatVersion = 1;

// `best` (optional): the best held-out epoch's parameters, stored beside the last epoch's.
void save_mapper(const std::string& path, Mapper& mapper, torch::optim::Optimizer* optimizer,
                 const std::vector<EpochRecord>& epochs, Mapper* best = nullptr);

struct MapperCheckpoint {
  MapperConfig config;
  std::vector<EpochRecord> epochs;
};
// Reads the configuration and records only. Throws mm::Error naming the file and the problem.
MapperCheckpoint read_mapper_checkpoint(const std::string& path);
// Loads the last epoch's parameters (and the optimizer's state, and the best epoch's parameters, when
// given and stored) into mappers built from the checkpoint's own config.
void load_mapper_state(const std::string& path, Mapper& mapper, torch::optim::Optimizer* optimizer,
                       Mapper* best = nullptr);
// Config and parameters at once, for inference: the best held-out epoch's parameters when the checkpoint
// has them, else the last epoch's. `language` (when not empty) must be the checkpoint's.
Mapper load_mapper(const std::string& path, const std::string& language, torch::Device device);

}  // namespace mm

// Mapper checkpoints (see checkpoint.h).
#include "mapper/checkpoint.h"

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/hash.h"

namespace mm {

namespace {

std::string records_json(const std::vector<EpochRecord>& epochs) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& e : epochs)
    j.push_back({{"epoch", e.epoch}, {"train_loss", e.train_loss}, {"val_loss", e.val_loss},
                 {"val_token_accuracy", e.val_token_accuracy}, {"seconds", e.seconds},
                 {"holdout_loss", e.holdout_loss}});
  return j.dump();
}

std::vector<EpochRecord> records_from_json(const std::string& text) {
  std::vector<EpochRecord> out;
  for (const auto& e : nlohmann::json::parse(text))
    out.push_back({e.at("epoch").get<int>(), e.at("train_loss").get<double>(), e.at("val_loss").get<double>(),
                   e.at("val_token_accuracy").get<double>(), e.at("seconds").get<double>(),
                   e.value("holdout_loss", 0.0)});
  return out;
}

std::string read_string(torch::serialize::InputArchive& ar, const std::string& key, const std::string& path) {
  c10::IValue v;
  bool found = false;
  try {
    found = ar.try_read(key, v);
  } catch (const c10::Error&) {
    throw Error("'" + path + "' is a corrupted mapper checkpoint (cannot read its " + key + ")");
  }
  if (!found || !v.isString()) throw Error("'" + path + "' is not a modelmap mapper checkpoint (no " + key + ")");
  return v.toStringRef();
}

void open_archive(torch::serialize::InputArchive& ar, const std::string& path) {
  if (!std::filesystem::exists(path)) throw Error("'" + path + "' does not exist");
  try {
    ar.load_from(path);
  } catch (const c10::Error&) {
    throw Error("'" + path + "' is not a modelmap mapper checkpoint (not a readable LibTorch archive)");
  }
  if (read_string(ar, "format", path) != kMapperFormat) throw Error("'" + path + "' is not a modelmap mapper checkpoint");
  const std::string version = read_string(ar, "format_version", path);
  if (version != std::to_string(kMapperFormatVersion))
    throw Error("'" + path + "' is a mapper checkpoint of format version " + version + "; this modelmap reads version " +
                std::to_string(kMapperFormatVersion) + " (retrain it with this modelmap)");
}

// A checksum of every parameter's values, in the module's order: LibTorch's archive does not check its
// data, so a corrupted file would otherwise load as wrong weights.
std::string parameter_checksum(Mapper& mapper) {
  std::string bytes;
  for (const auto& p : mapper->named_parameters()) {
    const auto t = p.value().detach().to(torch::kCPU).contiguous();
    bytes += p.key();
    bytes.append(reinterpret_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.numel()) * t.element_size());
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a64(bytes)));
  return hex;
}

}  // namespace

void save_mapper(const std::string& path, Mapper& mapper, torch::optim::Optimizer* optimizer,
                 const std::vector<EpochRecord>& epochs, Mapper* best) {
  torch::serialize::OutputArchive ar;
  ar.write("format", c10::IValue(std::string(kMapperFormat)));
  ar.write("format_version", c10::IValue(std::to_string(kMapperFormatVersion)));
  ar.write("config", c10::IValue(mapper->config().to_json()));
  ar.write("epochs", c10::IValue(records_json(epochs)));
  ar.write("checksum", c10::IValue(parameter_checksum(mapper)));
  torch::serialize::OutputArchive model;
  mapper->save(model);
  ar.write("model", model);
  if (best) {
    ar.write("best_checksum", c10::IValue(parameter_checksum(*best)));
    torch::serialize::OutputArchive b;
    (*best)->save(b);
    ar.write("best", b);
  }
  if (optimizer) {
    torch::serialize::OutputArchive opt;
    optimizer->save(opt);
    ar.write("optimizer", opt);
  }
  const std::string tmp = path + ".tmp";
  try {
    ar.save_to(tmp);
  } catch (const c10::Error& e) {
    throw Error("cannot write '" + tmp + "': " + e.what_without_backtrace());
  }
  std::filesystem::rename(tmp, path);
}

namespace {

MapperCheckpoint read_records(torch::serialize::InputArchive& ar, const std::string& path) {
  MapperCheckpoint c;
  try {
    c.config = MapperConfig::from_json(read_string(ar, "config", path));
    c.epochs = records_from_json(read_string(ar, "epochs", path));
  } catch (const nlohmann::json::exception& e) {
    throw Error("'" + path + "': malformed records: " + e.what());
  } catch (const Error& e) {
    throw Error("'" + path + "': " + e.what());
  } catch (const c10::Error&) {
    throw Error("'" + path + "' is a corrupted mapper checkpoint (its records cannot be read)");
  }
  return c;
}

// Loads the parameters stored under `key` ("model": the last epoch's; "best": the best held-out epoch's).
void load_state(torch::serialize::InputArchive& ar, const std::string& path, Mapper& mapper,
                torch::optim::Optimizer* optimizer, const std::string& key = "model") {
  try {
    torch::serialize::InputArchive model;
    ar.read(key, model);
    mapper->load(model);
    if (optimizer) {
      torch::serialize::InputArchive opt;
      ar.read("optimizer", opt);
      optimizer->load(opt);
    }
  } catch (const c10::Error&) {
    throw Error("'" + path + "' is a corrupted mapper checkpoint (its parameters cannot be read, or do not fit its configuration)");
  }
  if (parameter_checksum(mapper) != read_string(ar, key == "model" ? "checksum" : key + "_checksum", path))
    throw Error("'" + path + "' is a corrupted mapper checkpoint (its parameters fail their checksum)");
}

bool has_key(torch::serialize::InputArchive& ar, const std::string& key) {
  c10::IValue v;
  try {
    return ar.try_read(key, v);
  } catch (const c10::Error&) {
    return false;
  }
}

}  // namespace

MapperCheckpoint read_mapper_checkpoint(const std::string& path) {
  torch::serialize::InputArchive ar;
  open_archive(ar, path);
  return read_records(ar, path);
}

void load_mapper_state(const std::string& path, Mapper& mapper, torch::optim::Optimizer* optimizer, Mapper* best) {
  torch::serialize::InputArchive ar;
  open_archive(ar, path);
  load_state(ar, path, mapper, optimizer);
  if (best && has_key(ar, "best_checksum")) load_state(ar, path, *best, nullptr, "best");
}

Mapper load_mapper(const std::string& path, const std::string& language, torch::Device device) {
  torch::serialize::InputArchive ar;  // read once: records, then parameters
  open_archive(ar, path);
  const MapperCheckpoint c = read_records(ar, path);
  if (!language.empty() && c.config.language != language)
    throw Error("'" + path + "' decompiles " + c.config.language + " programs, not " + language);
  Mapper m(c.config);
  load_state(ar, path, m, nullptr, has_key(ar, "best_checksum") ? "best" : "model");
  m->to(device);
  m->eval();
  return m;
}

}  // namespace mm

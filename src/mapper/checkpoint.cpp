// Mapper checkpoints (see checkpoint.h).
#include "mapper/checkpoint.h"

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace mm {

namespace {

std::string records_json(const std::vector<EpochRecord>& epochs) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& e : epochs)
    j.push_back({{"epoch", e.epoch}, {"train_loss", e.train_loss}, {"val_loss", e.val_loss},
                 {"val_token_accuracy", e.val_token_accuracy}, {"seconds", e.seconds}});
  return j.dump();
}

std::vector<EpochRecord> records_from_json(const std::string& text) {
  std::vector<EpochRecord> out;
  for (const auto& e : nlohmann::json::parse(text))
    out.push_back({e.at("epoch").get<int>(), e.at("train_loss").get<double>(), e.at("val_loss").get<double>(),
                   e.at("val_token_accuracy").get<double>(), e.at("seconds").get<double>()});
  return out;
}

std::string read_string(torch::serialize::InputArchive& ar, const std::string& key, const std::string& path) {
  c10::IValue v;
  if (!ar.try_read(key, v) || !v.isString()) throw Error("'" + path + "' is not a modelmap mapper checkpoint (no " + key + ")");
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

}  // namespace

void save_mapper(const std::string& path, Mapper& mapper, torch::optim::Optimizer* optimizer,
                 const std::vector<EpochRecord>& epochs) {
  torch::serialize::OutputArchive ar;
  ar.write("format", c10::IValue(std::string(kMapperFormat)));
  ar.write("format_version", c10::IValue(std::to_string(kMapperFormatVersion)));
  ar.write("config", c10::IValue(mapper->config().to_json()));
  ar.write("epochs", c10::IValue(records_json(epochs)));
  torch::serialize::OutputArchive model;
  mapper->save(model);
  ar.write("model", model);
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

MapperCheckpoint read_mapper_checkpoint(const std::string& path) {
  torch::serialize::InputArchive ar;
  open_archive(ar, path);
  MapperCheckpoint c;
  try {
    c.config = MapperConfig::from_json(read_string(ar, "config", path));
    c.epochs = records_from_json(read_string(ar, "epochs", path));
  } catch (const nlohmann::json::exception& e) {
    throw Error("'" + path + "': malformed records: " + e.what());
  } catch (const Error& e) {
    throw Error("'" + path + "': " + e.what());
  }
  return c;
}

void load_mapper_state(const std::string& path, Mapper& mapper, torch::optim::Optimizer* optimizer) {
  torch::serialize::InputArchive ar;
  open_archive(ar, path);
  try {
    torch::serialize::InputArchive model;
    ar.read("model", model);
    mapper->load(model);
    if (optimizer) {
      torch::serialize::InputArchive opt;
      ar.read("optimizer", opt);
      optimizer->load(opt);
    }
  } catch (const c10::Error& e) {
    throw Error("'" + path + "': the checkpoint's parameters do not fit its configuration (corrupted?)");
  }
}

Mapper load_mapper(const std::string& path, const std::string& language, torch::Device device) {
  const MapperCheckpoint c = read_mapper_checkpoint(path);
  if (!language.empty() && c.config.language != language)
    throw Error("'" + path + "' decompiles " + c.config.language + " programs, not " + language);
  Mapper m(c.config);
  load_mapper_state(path, m, nullptr);
  m->to(device);
  m->eval();
  return m;
}

}  // namespace mm

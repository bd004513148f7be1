// MapperConfig as JSON, and the encoder's input of one subject.
#include "mapper/config.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/language.h"

namespace mm {

std::string MapperConfig::to_json() const {
  return nlohmann::json{{"language", language},       {"encoder", encoder},
                        {"d_model", d_model},         {"n_layers", n_layers},
                        {"n_heads", n_heads},         {"d_ff", d_ff},
                        {"rel_buckets", rel_buckets}, {"rel_max_distance", rel_max_distance},
                        {"max_tokens", max_tokens},   {"no_weights", no_weights},
                        {"target", target},           {"split", split},
                        {"order", order},
                        {"train_programs", train_programs}, {"views_per_model", views_per_model},
                        {"augment", augment},         {"class_values", class_values},
                        {"example_layers", example_layers}, {"probe_sample", probe_sample},
                        {"io_pairs", io_pairs},
                        {"synthetic", synthetic},     {"synthetic_programs", synthetic_programs},
                        {"synthetic_noise", synthetic_noise}, {"statement_classes", statement_classes},
                        {"features", nlohmann::json::parse(features.to_json())}}
      .dump();
}

MapperConfig MapperConfig::from_json(const std::string& text) {
  try {
    const auto j = nlohmann::json::parse(text);
    MapperConfig c;
    c.language = j.at("language").get<std::string>();
    c.encoder = j.at("encoder").get<std::string>();
    c.d_model = j.at("d_model").get<int>();
    c.n_layers = j.at("n_layers").get<int>();
    c.n_heads = j.at("n_heads").get<int>();
    c.d_ff = j.at("d_ff").get<int>();
    c.rel_buckets = j.at("rel_buckets").get<int>();
    c.rel_max_distance = j.at("rel_max_distance").get<int>();
    c.max_tokens = j.at("max_tokens").get<int>();
    c.no_weights = j.at("no_weights").get<bool>();
    c.target = j.value("target", std::string("sampled"));
    c.split = j.value("split", std::string("program"));
    c.order = j.value("order", std::string("canonical"));
    c.train_programs = j.value("train_programs", int64_t{0});
    c.views_per_model = j.value("views_per_model", 0);
    c.augment = j.value("augment", false);
    c.class_values = j.value("class_values", false);
    c.example_layers = j.value("example_layers", 0);
    c.probe_sample = j.value("probe_sample", 0);
    c.io_pairs = j.value("io_pairs", false);
    c.synthetic = j.value("synthetic", std::string());
    c.synthetic_programs = j.value("synthetic_programs", int64_t{0});
    c.synthetic_noise = j.value("synthetic_noise", false);
    c.statement_classes = j.value("statement_classes", 0);
    c.features = FeatureSpec::from_json(j.at("features").dump());
    c.validate();
    return c;
  } catch (const nlohmann::json::exception& e) {
    throw Error("malformed mapper configuration: " + std::string(e.what()));
  }
}

void MapperConfig::validate() const {
  language_by_name(language).in_order(order);
  if (encoder != "layergraph" && encoder != "invariant" && encoder != "behaviour" && encoder != "probe")
    throw Error("unknown encoder '" + encoder + "' (choose layergraph, invariant, behaviour or probe)");
  if (target != "reduced" && target != "sampled") throw Error("unknown target '" + target + "' (choose reduced or sampled)");
  if (views_per_model < 0) throw Error("views per model must be 0 (all) or more");
  if (split != "program" && split != "view") throw Error("unknown split '" + split + "' (choose program or view)");
  if (d_model < 8 || d_model > 4096) throw Error("d_model must be in 8..4096");
  if (n_heads < 1 || d_model % n_heads != 0) throw Error("d_model must be a multiple of the decoder's heads");
  if (n_layers < 1 || n_layers > 24) throw Error("decoder layers must be in 1..24");
  if (d_ff < 1 || d_ff > 65536) throw Error("d_ff must be in 1..65536");
  if (rel_buckets < 2 || rel_max_distance <= rel_buckets / 2) throw Error("bad relative position buckets");
  if (max_tokens < 2 || max_tokens > 100000) throw Error("max_tokens must be in 2..100000");
  const bool functional = encoder == "behaviour" || encoder == "probe";
  if (example_layers < 0 || example_layers > 8) throw Error("example layers must be in 0..8");
  if (statement_classes < 0 || statement_classes > 1024) throw Error("the statement head's classes must be in 0..1024");
  if (probe_sample < 0) throw Error("the probe sample must be 0 (all probe inputs) or more");
  if (!synthetic.empty() && encoder != "behaviour")
    throw Error("--synthetic trains on programs' own behaviour, which only the behaviour encoder reads (the " + encoder +
                " encoder reads " + (encoder == "probe" ? "the subject's internals too" : "weights") +
                "): use --encoder behaviour, and --no-weights with it for the floor");
  if (synthetic_noise && synthetic.empty())
    throw Error("--synthetic-noise gives the synthetic programs' tables the errors of real subjects: give --synthetic FILE too");
  if (!functional && (example_layers > 0 || probe_sample > 0 || io_pairs))
    throw Error("--example-layers, --probe-sample and --io-pairs shape how the behaviour and probe encoders read the probe "
                "inputs; the " + encoder + " encoder reads none");
}

const Language& written_language(const MapperConfig& config) {
  return language_by_name(config.language).in_order(config.order);
}

EncoderInput encoder_input(const SubjectModel& m, const MapperConfig& config) {
  EncoderInput in;
  if (m.arch.n_layers > kMaxLayerEmbeddings)
    throw Error("the subject has " + std::to_string(m.arch.n_layers) + " layers; the mapper reads at most " +
                std::to_string(kMaxLayerEmbeddings));
  if (config.encoder == "layergraph") in.graph = layergraph_input(m, config.features);
  else if (config.encoder == "invariant") in.circuits = invariant_input(m, config.features);
  else in.functional = functional_input(m, config.features, /*internals=*/config.encoder == "probe");
  return in;
}

}  // namespace mm

// The mapper's configuration and what its encoder reads of one subject — no torch, so that data loading,
// the command line and the checkpoint's metadata do not need it.
#pragma once

#include <string>

#include "mapper/features.h"

namespace mm {

constexpr int kMaxLayerEmbeddings = 16;  // subject layers the invariant encoder can tell apart

struct MapperConfig {
  std::string language = "rasp";
  std::string encoder = "invariant";  // "layergraph" or "invariant"
  int d_model = 128;                  // encoder output and decoder width
  int n_layers = 3;                   // decoder layers (paper: 3)
  int n_heads = 8;                    // decoder attention heads (paper: 8)
  int d_ff = 32;                      // decoder feed-forward width (paper: 32)
  int rel_buckets = 32;               // T5 relative position buckets
  int rel_max_distance = 128;         // T5: distances beyond share the last bucket
  int max_tokens = 512;               // the longest token sequence decoded (program tokens + <eos>)
  bool no_weights = false;            // the floor: the encoder's input is zeroed (what the program prior gives)
  FeatureSpec features;               // encoder input sizes, fixed from the training corpus

  std::string to_json() const;
  static MapperConfig from_json(const std::string& text);  // throws mm::Error
  void validate() const;                                   // throws mm::Error
};

// What the encoder reads of one subject (computed once per view, CPU). Throws mm::Error when the subject
// does not fit the mapper's feature spec.
struct EncoderInput {
  LayerGraphInput graph;   // layergraph
  InvariantInput circuits; // invariant
};
EncoderInput encoder_input(const SubjectModel& m, const MapperConfig& config);

}  // namespace mm

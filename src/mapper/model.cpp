// The mapper network: both encoders and the T5-style decoder (see model.h). Shapes in comments:
// B batch, N graph nodes, Hn head tokens, Nn neurons, S memory tokens, T target tokens, H decoder heads.
#include "mapper/model.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/language.h"
#include "core/rng.h"

namespace mm {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& gain) {
  return x * torch::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + 1e-6) * gain;
}

// Splits (B, T, d) into heads: (B, H, T, dk).
torch::Tensor split_heads(const torch::Tensor& x, int heads) {
  const int64_t B = x.size(0), T = x.size(1), d = x.size(2);
  return x.view({B, T, heads, d / heads}).transpose(1, 2);
}

// Scaled dot-product attention of per-head q (B, H, T, dk) over k, v (B, H, S, dk), then the output
// projection; `bias` broadcasts to (B, H, T, S) (undefined: none); `allowed` (bool) likewise.
torch::Tensor attention(torch::nn::Linear& wo, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& bias, const torch::Tensor& allowed) {
  const int64_t B = q.size(0), T = q.size(2), dk = q.size(3);
  auto scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(dk));  // (B, H, T, S)
  if (bias.defined()) scores = scores + bias;
  if (allowed.defined()) scores = scores.masked_fill(allowed.logical_not(), kNegInf);
  const auto out = torch::matmul(torch::softmax(scores, -1), v);  // (B, H, T, dk)
  return wo->forward(out.transpose(1, 2).reshape({B, T, q.size(1) * dk}));
}

// Multi-head attention without biases: x (B, T, d) attends to kv (B, S, d).
torch::Tensor attend(torch::nn::Linear& wq, torch::nn::Linear& wk, torch::nn::Linear& wv, torch::nn::Linear& wo,
                     const torch::Tensor& x, const torch::Tensor& kv, const torch::Tensor& bias,
                     const torch::Tensor& allowed, int heads) {
  return attention(wo, split_heads(wq->forward(x), heads), split_heads(wk->forward(kv), heads),
                   split_heads(wv->forward(kv), heads), bias, allowed);
}

// T5's bucket for a causal decoder: distance n = query - key >= 0; exact below buckets/2, then log-spaced
// up to max_distance.
int64_t relative_bucket(int64_t n, int buckets, int max_distance) {
  const int exact = buckets / 2;
  if (n < exact) return n;
  const double scaled = std::log(static_cast<double>(n) / exact) / std::log(static_cast<double>(max_distance) / exact);
  return std::min<int64_t>(buckets - 1, exact + static_cast<int64_t>(scaled * (buckets - exact)));
}

torch::Tensor tensor_of(const std::vector<float>& v, std::vector<int64_t> shape) {
  return torch::from_blob(const_cast<float*>(v.data()), shape, torch::kFloat32).clone();
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Batches

EncoderBatch collate(const std::vector<const EncoderInput*>& inputs, const MapperConfig& config, torch::Device device,
                     const std::vector<uint64_t>* sample_seeds) {
  const FeatureSpec& f = config.features;
  const int64_t B = static_cast<int64_t>(inputs.size());
  const float keep = config.no_weights ? 0.f : 1.f;
  EncoderBatch b;
  if (config.encoder == "layergraph") {
    int64_t N = 1;
    for (const EncoderInput* in : inputs) N = std::max<int64_t>(N, in->graph.nodes);
    const int64_t W = f.node_width;
    std::vector<float> x(static_cast<size_t>(B * N * W), 0.f), adj(static_cast<size_t>(B * N * N), 0.f);
    auto mask = torch::zeros({B, N}, torch::kBool);
    for (int64_t i = 0; i < B; ++i) {
      const LayerGraphInput& g = inputs[static_cast<size_t>(i)]->graph;
      for (size_t k = 0; k < g.x.size(); ++k) x[static_cast<size_t>(i * N * W) + k] = g.x[k] * keep;
      mask.index_put_({i, torch::indexing::Slice(0, g.nodes)}, true);
      // Path graph with self-loops, D^-1/2 (A + I) D^-1/2.
      auto degree = [&](int64_t u) { return 1.0 + (u > 0) + (u + 1 < g.nodes); };
      for (int64_t u = 0; u < g.nodes; ++u)
        for (int64_t v = std::max<int64_t>(0, u - 1); v <= std::min<int64_t>(g.nodes - 1, u + 1); ++v)
          adj[static_cast<size_t>((i * N + u) * N + v)] = static_cast<float>(1.0 / std::sqrt(degree(u) * degree(v)));
    }
    b.nodes = tensor_of(x, {B, N, W}).to(device);
    b.adjacency = tensor_of(adj, {B, N, N}).to(device);
    b.node_mask = mask.to(device);
    return b;
  }
  if (config.encoder == "behaviour" || config.encoder == "probe") {
    // Which probe inputs each subject shows: all, or probe_sample of them (drawn, or evenly spaced).
    std::vector<std::vector<int64_t>> chosen(static_cast<size_t>(B));
    for (int64_t i = 0; i < B; ++i) {
      const int64_t all = inputs[static_cast<size_t>(i)]->functional.behaviour.n;
      auto& c = chosen[static_cast<size_t>(i)];
      const int64_t K = config.probe_sample;
      if (K <= 0 || all <= K) {
        for (int64_t x = 0; x < all; ++x) c.push_back(x);
      } else if (sample_seeds) {  // K distinct of `all`, a partial Fisher-Yates shuffle
        std::vector<int64_t> order(static_cast<size_t>(all));
        for (int64_t x = 0; x < all; ++x) order[static_cast<size_t>(x)] = x;
        Rng rng((*sample_seeds)[static_cast<size_t>(i)]);
        for (int64_t k = 0; k < K; ++k) {
          const int64_t j = k + rng.uniform_int(0, all - k - 1);
          std::swap(order[static_cast<size_t>(k)], order[static_cast<size_t>(j)]);
          c.push_back(order[static_cast<size_t>(k)]);
        }
      } else {
        for (int64_t k = 0; k < K; ++k) c.push_back(k * all / K);
      }
    }
    int64_t n = 1;
    const int64_t w = 2 * f.max_len;
    for (const auto& c : chosen) n = std::max<int64_t>(n, static_cast<int64_t>(c.size()));
    auto io = torch::zeros({B, n, w}, torch::kInt64);
    auto io_mask = torch::zeros({B, n}, torch::kBool);
    auto acc = io.accessor<int64_t, 3>();
    auto mk = io_mask.accessor<bool, 2>();
    for (int64_t i = 0; i < B; ++i) {
      const BehaviourInput& bh = inputs[static_cast<size_t>(i)]->functional.behaviour;
      const auto& c = chosen[static_cast<size_t>(i)];
      for (int64_t s = 0; s < static_cast<int64_t>(c.size()); ++s) {
        mk[i][s] = true;
        for (int64_t k = 0; k < w; ++k)
          acc[i][s][k] = config.no_weights ? 0 : bh.io[static_cast<size_t>(c[static_cast<size_t>(s)] * w + k)];
      }
    }
    b.io = io.to(device);
    b.io_mask = io_mask.to(device);
    if (config.encoder == "behaviour") return b;
  }
  const bool probe = config.encoder == "probe";
  auto circuits = [&](const EncoderInput* in) -> const InvariantInput& { return probe ? in->functional.internals : in->circuits; };
  int64_t Hn = 1, Nn = 1;
  for (const EncoderInput* in : inputs) {
    Hn = std::max<int64_t>(Hn, static_cast<int64_t>(circuits(in).head_layer.size()));
    Nn = std::max<int64_t>(Nn, static_cast<int64_t>(circuits(in).neuron_layer.size()));
    b.max_layers = std::max(b.max_layers, circuits(in).n_layers);
  }
  const int64_t hf = probe ? f.probe_head_features() : f.head_features(),
                nf = probe ? f.probe_neuron_features() : f.neuron_features(), df = probe ? 0 : f.direct_features();
  std::vector<float> heads(static_cast<size_t>(B * Hn * hf), 0.f), neurons(static_cast<size_t>(B * Nn * nf), 0.f),
      direct(static_cast<size_t>(B * df), 0.f);
  auto head_layer = torch::zeros({B, Hn}, torch::kInt64), neuron_layer = torch::zeros({B, Nn}, torch::kInt64);
  auto head_mask = torch::zeros({B, Hn}, torch::kBool), neuron_mask = torch::zeros({B, Nn}, torch::kBool);
  auto hl = head_layer.accessor<int64_t, 2>(), nl = neuron_layer.accessor<int64_t, 2>();
  auto hm = head_mask.accessor<bool, 2>(), nm = neuron_mask.accessor<bool, 2>();
  for (int64_t i = 0; i < B; ++i) {
    const InvariantInput& c = circuits(inputs[static_cast<size_t>(i)]);
    for (size_t k = 0; k < c.heads.size(); ++k) heads[static_cast<size_t>(i * Hn * hf) + k] = c.heads[k] * keep;
    for (size_t k = 0; k < c.neurons.size(); ++k) neurons[static_cast<size_t>(i * Nn * nf) + k] = c.neurons[k] * keep;
    for (size_t k = 0; k < c.direct.size(); ++k) direct[static_cast<size_t>(i * df) + k] = c.direct[k] * keep;
    for (size_t k = 0; k < c.head_layer.size(); ++k) hl[i][static_cast<int64_t>(k)] = c.head_layer[k], hm[i][static_cast<int64_t>(k)] = true;
    for (size_t k = 0; k < c.neuron_layer.size(); ++k) nl[i][static_cast<int64_t>(k)] = c.neuron_layer[k], nm[i][static_cast<int64_t>(k)] = true;
  }
  b.heads = tensor_of(heads, {B, Hn, hf}).to(device);
  b.neurons = tensor_of(neurons, {B, Nn, nf}).to(device);
  if (df > 0) b.direct = tensor_of(direct, {B, df}).to(device);
  if (!probe && config.class_values) {
    auto cv = torch::zeros({B, static_cast<int64_t>(f.classes)}, torch::kInt64);
    auto acc = cv.accessor<int64_t, 2>();
    for (int64_t i = 0; i < B; ++i) {
      const auto& v = inputs[static_cast<size_t>(i)]->circuits.class_values;
      for (size_t k = 0; k < v.size() && k < static_cast<size_t>(f.classes); ++k)
        acc[i][static_cast<int64_t>(k)] = config.no_weights ? 0 : v[k];
    }
    b.class_values = cv.to(device);
  }
  b.head_layer = head_layer.to(device);
  b.neuron_layer = neuron_layer.to(device);
  b.head_mask = head_mask.to(device);
  b.neuron_mask = neuron_mask.to(device);
  return b;
}

// ---------------------------------------------------------------------------------------------------
// The network

MapperImpl::MapperImpl(const MapperConfig& config) : config_(config) {
  config_.validate();
  vocab_ = static_cast<int>(language_by_name(config_.language).vocabulary().size());
  const int d = config_.d_model;
  const FeatureSpec& f = config_.features;
  using torch::nn::Linear, torch::nn::LinearOptions, torch::nn::LayerNorm, torch::nn::LayerNormOptions;
  auto no_bias = [&](int in, int out) { return Linear(LinearOptions(in, out).bias(false)); };
  if (config_.encoder == "layergraph") {
    node_norm_ = register_module("node_norm", LayerNorm(LayerNormOptions({f.node_width})));
    fc1_ = register_module("fc1", Linear(f.node_width, d));
    gcn1_ = register_module("gcn1", Linear(d, d));
    fc2_ = register_module("fc2", Linear(d, d));
    gcn2_ = register_module("gcn2", Linear(d, d));
  } else if (config_.encoder == "invariant") {
    head_norm_ = register_module("head_norm", LayerNorm(LayerNormOptions({f.head_features()})));
    head_in_ = register_module("head_in", Linear(f.head_features(), d));
    neuron_norm_ = register_module("neuron_norm", LayerNorm(LayerNormOptions({f.neuron_features()})));
    neuron_in_ = register_module("neuron_in", Linear(f.neuron_features(), d));
    neuron_out_ = register_module("neuron_out", Linear(d, d));
    direct_norm_ = register_module("direct_norm", LayerNorm(LayerNormOptions({f.direct_features()})));
    direct_in_ = register_module("direct_in", Linear(f.direct_features(), d));
    layer_embed_ = register_module("layer_embed", torch::nn::Embedding(kMaxLayerEmbeddings, d));
    type_embed_ = register_module("type_embed", torch::nn::Embedding(config_.class_values ? 5 : 4, d));  // head, mean, max, direct, classes
    if (config_.class_values) class_embed_ = register_module("class_embed", torch::nn::Embedding(f.classes * kValueIds, d));
  } else {  // behaviour, probe
    if (config_.encoder == "probe") {
      head_norm_ = register_module("head_norm", LayerNorm(LayerNormOptions({f.probe_head_features()})));
      head_in_ = register_module("head_in", Linear(f.probe_head_features(), d));
      neuron_norm_ = register_module("neuron_norm", LayerNorm(LayerNormOptions({f.probe_neuron_features()})));
      neuron_in_ = register_module("neuron_in", Linear(f.probe_neuron_features(), d));
      neuron_out_ = register_module("neuron_out", Linear(d, d));
      layer_embed_ = register_module("layer_embed", torch::nn::Embedding(kMaxLayerEmbeddings, d));
    }
    type_embed_ = register_module("type_embed", torch::nn::Embedding(5, d));  // head, mean, max, (direct), probe input
    io_in_ = register_module("io_in", torch::nn::Embedding(f.max_len * f.vocab, d));
    io_out_ = register_module("io_out", torch::nn::Embedding(f.max_len * kValueIds, d));
    if (config_.io_pairs) {
      io_pair_pos_ = register_module("io_pair_pos", torch::nn::Embedding(f.max_len * f.vocab * kValueIds, d));
      io_pair_ = register_module("io_pair", torch::nn::Embedding(f.vocab * kValueIds, d));
    }
    io_mlp1_ = register_module("io_mlp1", Linear(d, d));
    io_mlp2_ = register_module("io_mlp2", Linear(d, d));
    for (int l = 0; l < config_.example_layers; ++l) {
      const std::string k = "_" + std::to_string(l);
      ExampleLayer y;
      y.q = register_module("ex_q" + k, no_bias(d, d));
      y.k = register_module("ex_k" + k, no_bias(d, d));
      y.v = register_module("ex_v" + k, no_bias(d, d));
      y.o = register_module("ex_o" + k, no_bias(d, d));
      y.ff_in = register_module("ex_ff_in" + k, Linear(d, 2 * d));
      y.ff_out = register_module("ex_ff_out" + k, Linear(2 * d, d));
      y.norm_attn = register_parameter("ex_norm_attn" + k, torch::ones({d}));
      y.norm_ff = register_parameter("ex_norm_ff" + k, torch::ones({d}));
      example_layers_.push_back(y);
    }
  }
  tok_embed_ = register_module("tok_embed", torch::nn::Embedding(vocab_, d));
  rel_bias_ = register_module("rel_bias", torch::nn::Embedding(config_.rel_buckets, config_.n_heads));
  {
    torch::NoGradGuard no_grad;
    rel_bias_->weight.zero_();  // no position preference before training
  }
  for (int l = 0; l < config_.n_layers; ++l) {
    const std::string k = "_" + std::to_string(l);
    Layer y;
    y.self_q = register_module("self_q" + k, no_bias(d, d));
    y.self_k = register_module("self_k" + k, no_bias(d, d));
    y.self_v = register_module("self_v" + k, no_bias(d, d));
    y.self_o = register_module("self_o" + k, no_bias(d, d));
    y.cross_q = register_module("cross_q" + k, no_bias(d, d));
    y.cross_k = register_module("cross_k" + k, no_bias(d, d));
    y.cross_v = register_module("cross_v" + k, no_bias(d, d));
    y.cross_o = register_module("cross_o" + k, no_bias(d, d));
    y.ff_in = register_module("ff_in" + k, no_bias(d, config_.d_ff));
    y.ff_out = register_module("ff_out" + k, no_bias(config_.d_ff, d));
    y.norm_self = register_parameter("norm_self" + k, torch::ones({d}));
    y.norm_cross = register_parameter("norm_cross" + k, torch::ones({d}));
    y.norm_ff = register_parameter("norm_ff" + k, torch::ones({d}));
    layers_.push_back(y);
  }
  norm_memory_ = register_parameter("norm_memory", torch::ones({d}));
  norm_final_ = register_parameter("norm_final", torch::ones({d}));
  lm_head_ = register_module("lm_head", no_bias(d, vocab_));
  if (config_.statement_classes > 0) {
    statement_in_ = register_module("statement_in", torch::nn::Linear(2 * d, d));
    statement_out_ = register_module("statement_out", torch::nn::Linear(d, config_.statement_classes));
  }
}

Memory MapperImpl::encode(const EncoderBatch& batch) {
  if (config_.encoder == "layergraph") return encode_layergraph(batch);
  if (config_.encoder == "invariant") return encode_invariant(batch);
  return encode_functional(batch);
}

Memory MapperImpl::encode_layergraph(const EncoderBatch& b) {
  // fully connected, graph convolution, fully connected, graph convolution (paper, section 3.3)
  auto x = torch::relu(fc1_->forward(node_norm_->forward(b.nodes)));  // (B, N, d)
  x = torch::relu(torch::matmul(b.adjacency, gcn1_->forward(x)));      // (B, N, d)
  x = torch::relu(fc2_->forward(x));                                   // (B, N, d)
  x = torch::matmul(b.adjacency, gcn2_->forward(x));                   // (B, N, d)
  return {x, b.node_mask};
}

Memory MapperImpl::encode_invariant(const EncoderBatch& b) {
  const auto device = b.heads.device();
  auto type = [&](int64_t k) { return type_embed_->forward(torch::full({1}, k, torch::TensorOptions(torch::kInt64).device(device))); };
  std::vector<torch::Tensor> tokens, masks;
  circuit_tokens(b, tokens, masks);
  tokens.push_back((direct_in_->forward(direct_norm_->forward(b.direct)) + type(3)).unsqueeze(1));  // (B, 1, d)
  masks.push_back(torch::ones({b.direct.size(0), 1}, torch::TensorOptions(torch::kBool).device(device)));
  if (config_.class_values) {  // what each output class stands for: class k's value, embedded by k, summed
    const int64_t C = config_.features.classes;
    const auto ids = b.class_values + torch::arange(C, torch::TensorOptions(torch::kInt64).device(device)) * kValueIds;
    tokens.push_back((class_embed_->forward(ids).sum(1) + type(4)).unsqueeze(1));
    masks.push_back(torch::ones({b.direct.size(0), 1}, torch::TensorOptions(torch::kBool).device(device)));
  }
  return {torch::cat(tokens, 1), torch::cat(masks, 1)};
}

Memory MapperImpl::encode_functional(const EncoderBatch& b) {
  const auto device = b.io.device();
  std::vector<torch::Tensor> tokens, masks;
  if (config_.encoder == "probe") circuit_tokens(b, tokens, masks);
  // One token per probe input: its input token and output value at each position, embedded by position
  // and summed, then an MLP.
  const int64_t W = config_.features.max_len, V = config_.features.vocab, C1 = kValueIds;
  const auto positions = torch::arange(W, torch::TensorOptions(torch::kInt64).device(device));
  const auto tokens_in = b.io.slice(2, 0, W), values_out = b.io.slice(2, W, 2 * W);  // (B, n, W) each
  const auto in_ids = tokens_in + positions * V;     // (B, n, W)
  const auto out_ids = values_out + positions * C1;  // (B, n, W)
  // io_pairs: what the output at each position is beside the input token there, by position and not.
  auto out_embedding = [&] {  // (B, n, W, d)
    auto o = io_out_->forward(out_ids);
    if (config_.io_pairs) {
      const auto pair = tokens_in * C1 + values_out;  // (B, n, W): input * C1 + output
      o = o + io_pair_->forward(pair) + io_pair_pos_->forward(pair + positions * (V * C1));
    }
    return o;
  };
  torch::Tensor e;  // (B, n, d)
  if (example_layers_.empty()) {
    e = io_in_->forward(in_ids).sum(2) + out_embedding().sum(2);
  } else {
    // Each probe input as 2W tokens (input token i, output value i; both embeddings carry the position),
    // related by self-attention within the input, then averaged.
    const int64_t B = b.io.size(0), n = b.io.size(1), d = config_.d_model;
    auto x = torch::cat({io_in_->forward(in_ids), out_embedding()}, 2).view({B * n, 2 * W, d});
    const int heads = config_.n_heads;
    for (ExampleLayer& y : example_layers_) {
      const auto xs = rms_norm(x, y.norm_attn);
      x = x + attend(y.q, y.k, y.v, y.o, xs, xs, {}, {}, heads);
      x = x + y.ff_out->forward(torch::relu(y.ff_in->forward(rms_norm(x, y.norm_ff))));
    }
    e = x.mean(1).view({B, n, d});
  }
  const auto type = type_embed_->forward(torch::full({1}, int64_t{4}, torch::TensorOptions(torch::kInt64).device(device)));
  tokens.push_back(io_mlp2_->forward(torch::relu(io_mlp1_->forward(torch::relu(e)))) + type);
  masks.push_back(b.io_mask);
  return {torch::cat(tokens, 1), torch::cat(masks, 1)};
}

void MapperImpl::circuit_tokens(const EncoderBatch& b, std::vector<torch::Tensor>& tokens, std::vector<torch::Tensor>& masks) {
  const auto device = b.heads.device();
  auto type = [&](int64_t k) { return type_embed_->forward(torch::full({1}, k, torch::TensorOptions(torch::kInt64).device(device))); };
  // One token per head: (B, Hn, d).
  const auto heads = head_in_->forward(head_norm_->forward(b.heads)) + layer_embed_->forward(b.head_layer) + type(0);
  // Neurons, each encoded alone, then pooled as a set per layer into a mean token and a max token.
  const auto z = neuron_out_->forward(torch::relu(neuron_in_->forward(neuron_norm_->forward(b.neurons))));  // (B, Nn, d)
  tokens.push_back(heads);
  masks.push_back(b.head_mask);
  for (int l = 0; l < b.max_layers; ++l) {
    const auto in_layer = b.neuron_mask.logical_and(b.neuron_layer == l);  // (B, Nn)
    const auto count = in_layer.sum(1, /*keepdim=*/false, torch::kFloat32).clamp_min(1).unsqueeze(-1);  // (B, 1)
    const auto sel = in_layer.unsqueeze(-1);                                                   // (B, Nn, 1)
    const auto mean = (z * sel).sum(1) / count;                                                // (B, d)
    auto max = std::get<0>(z.masked_fill(sel.logical_not(), kNegInf).max(1));                 // (B, d)
    const auto any = in_layer.any(1);                                                          // (B)
    max = torch::where(any.unsqueeze(-1), max, torch::zeros_like(max));
    const auto layer = layer_embed_->forward(torch::full({1}, static_cast<int64_t>(l), torch::TensorOptions(torch::kInt64).device(device)));
    tokens.push_back((mean + layer + type(1)).unsqueeze(1));
    tokens.push_back((max + layer + type(2)).unsqueeze(1));
    masks.push_back(any.unsqueeze(1));
    masks.push_back(any.unsqueeze(1));
  }
}

torch::Tensor MapperImpl::relative_bias(int64_t first_query, int64_t t, torch::Device device) {
  const int64_t rows = t - first_query;
  std::vector<int64_t> buckets(static_cast<size_t>(rows * t));
  for (int64_t q = first_query; q < t; ++q)
    for (int64_t k = 0; k < t; ++k)
      buckets[static_cast<size_t>((q - first_query) * t + k)] =
          relative_bucket(std::max<int64_t>(0, q - k), config_.rel_buckets, config_.rel_max_distance);
  const auto idx = torch::from_blob(buckets.data(), {rows, t}, torch::kInt64).clone().to(device);
  return rel_bias_->forward(idx).permute({2, 0, 1}).unsqueeze(0);  // (1, H, rows, T)
}

torch::Tensor MapperImpl::decode(const torch::Tensor& tokens, const Memory& memory) {
  return lm_head_->forward(decoder_states(tokens, memory));  // (B, T, vocab)
}

torch::Tensor MapperImpl::statement_features(const Memory& memory) {
  const int64_t B = memory.x.size(0);
  const auto bos = torch::full({B, 1}, int64_t{kBosId}, torch::TensorOptions(torch::kInt64).device(memory.x.device()));
  const auto first = decoder_states(bos, memory).select(1, 0);  // (B, d)
  const auto m = memory.mask.unsqueeze(-1).to(memory.x.dtype());  // (B, S, 1)
  const auto mean = (rms_norm(memory.x, norm_memory_) * m).sum(1) / m.sum(1).clamp_min(1);  // (B, d)
  return torch::cat({first, mean}, 1);
}

torch::Tensor MapperImpl::statement_logits(const torch::Tensor& features) {
  if (config_.statement_classes <= 0) throw Error("this mapper has no statement head (train one with `modelmap mapper statements`)");
  return statement_out_->forward(torch::relu(statement_in_->forward(features)));
}

std::vector<int> MapperImpl::predicted_statements(const Memory& memory) {
  const auto best = predicted_counts(statement_logits(statement_features(memory)).to(torch::kCPU));
  std::vector<int> out;
  for (int64_t b = 0; b < best.size(0); ++b) out.push_back(static_cast<int>(best[b].item<int64_t>()));
  return out;
}

torch::Tensor MapperImpl::decoder_states(const torch::Tensor& tokens, const Memory& memory) {
  const int64_t T = tokens.size(1);
  const auto device = tokens.device();
  const auto causal = torch::ones({T, T}, torch::TensorOptions(torch::kBool).device(device)).tril().view({1, 1, T, T});
  const auto bias = relative_bias(0, T, device);          // (1, H, T, T)
  const auto mem = rms_norm(memory.x, norm_memory_);      // (B, S, d)
  const auto mem_allowed = memory.mask.view({memory.mask.size(0), 1, 1, memory.mask.size(1)});  // (B, 1, 1, S)
  auto x = tok_embed_->forward(tokens);                   // (B, T, d)
  const int h = config_.n_heads;
  for (Layer& y : layers_) {
    const auto xs = rms_norm(x, y.norm_self);
    x = x + attend(y.self_q, y.self_k, y.self_v, y.self_o, xs, xs, bias, causal, h);
    x = x + attend(y.cross_q, y.cross_k, y.cross_v, y.cross_o, rms_norm(x, y.norm_cross), mem, {}, mem_allowed, h);
    x = x + y.ff_out->forward(torch::relu(y.ff_in->forward(rms_norm(x, y.norm_ff))));
  }
  return rms_norm(x, norm_final_);  // (B, T, d)
}

DecoderState MapperImpl::start(const Memory& memory) {
  DecoderState s;
  const auto mem = rms_norm(memory.x, norm_memory_);  // (B, S, d)
  s.memory_allowed = memory.mask.view({memory.mask.size(0), 1, 1, memory.mask.size(1)});
  for (Layer& y : layers_) {
    s.cross_k.push_back(split_heads(y.cross_k->forward(mem), config_.n_heads));
    s.cross_v.push_back(split_heads(y.cross_v->forward(mem), config_.n_heads));
  }
  s.self_k.resize(layers_.size());
  s.self_v.resize(layers_.size());
  return s;
}

torch::Tensor MapperImpl::step(const torch::Tensor& tokens, DecoderState& s) {
  const auto device = tokens.device();
  const int64_t p = s.length;  // the new token's position
  const auto bias = relative_bias(p, p + 1, device);  // (1, H, 1, p + 1)
  auto x = tok_embed_->forward(tokens.view({-1, 1}));                          // (B, 1, d)
  const int h = config_.n_heads;
  for (size_t l = 0; l < layers_.size(); ++l) {
    Layer& y = layers_[l];
    const auto xs = rms_norm(x, y.norm_self);
    const auto k = split_heads(y.self_k->forward(xs), h), v = split_heads(y.self_v->forward(xs), h);  // (B, H, 1, dk)
    s.self_k[l] = s.self_k[l].defined() ? torch::cat({s.self_k[l], k}, 2) : k;
    s.self_v[l] = s.self_v[l].defined() ? torch::cat({s.self_v[l], v}, 2) : v;
    x = x + attention(y.self_o, split_heads(y.self_q->forward(xs), h), s.self_k[l], s.self_v[l], bias, {});
    const auto xc = split_heads(y.cross_q->forward(rms_norm(x, y.norm_cross)), h);
    const int64_t B = x.size(0);
    auto ck = s.cross_k[l], cv = s.cross_v[l];
    auto allowed = s.memory_allowed;
    if (ck.size(0) != B) {  // one memory shared by every hypothesis
      ck = ck.expand({B, ck.size(1), ck.size(2), ck.size(3)});
      cv = cv.expand({B, cv.size(1), cv.size(2), cv.size(3)});
      allowed = allowed.expand({B, 1, 1, allowed.size(3)});
    }
    x = x + attention(y.cross_o, xc, ck, cv, {}, allowed);
    x = x + y.ff_out->forward(torch::relu(y.ff_in->forward(rms_norm(x, y.norm_ff))));
  }
  ++s.length;
  return lm_head_->forward(rms_norm(x, norm_final_)).select(1, 0);  // (B, vocab)
}

void DecoderState::reorder(const torch::Tensor& rows) {
  for (auto& t : self_k) t = t.index_select(0, rows);
  for (auto& t : self_v) t = t.index_select(0, rows);
}

torch::Tensor predicted_counts(const torch::Tensor& statement_logits) {
  return statement_logits.slice(1, 1).argmax(1) + 1;
}

int64_t mapper_parameter_count(Mapper& m) {
  int64_t n = 0;
  for (const auto& p : m->parameters()) n += p.numel();
  return n;
}

}  // namespace mm

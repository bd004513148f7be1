// The compiler's pipeline, pass by pass (see compile.h): validate, trace over the domain, place in
// layers, write weights; then the metadata a user needs to read the model (the residual's labels).
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "compile/compile.h"
#include "compile/graph.h"
#include "core/json_io.h"
#include "rasp/rasp.h"

namespace mm::compile {

Compiled compile_program(const rasp::Program& program, const InputDomain& domain, const CompileOptions& options) {
  rasp::validate(program);
  domain.validate();
  if (domain.size() > options.max_inputs)
    throw Error("the domain (" + domain.describe() + ") has " + std::to_string(domain.size()) +
                " inputs; the compiler enumerates it and takes at most " + std::to_string(options.max_inputs));
  const std::vector<Input> inputs = domain.enumerate(options.max_inputs);

  Graph graph = rasp_to_graph(program, inputs, domain, options.tracr_strict);
  graph_to_layers(graph);
  Compiled c = layers_to_model(graph, domain, options);

  SubjectModel& m = c.model;
  m.domain = domain;
  m.language = "rasp";
  m.program = rasp::print(program);
  m.info["origin"] = "compiled";
  m.info["residual"] = nlohmann::json(c.residual).dump();
  m.info["output"] = nlohmann::json({{"label", c.output_label}, {"encoding", c.output_numerical ? "numerical" : "categorical"}}).dump();
  m.info["compiler"] = nlohmann::json({{"softmax_sharpness", options.softmax_sharpness},
                                       {"bos_self_score", options.bos_self_score},
                                       {"attention_heads", c.attention_heads},
                                       {"mlp_units", c.mlp_units}})
                           .dump();
  m.arch.validate();
  return c;
}

CompileCheck check_compiled(const rasp::Program& program, const Compiled& c) {
  int out_dim = -1;
  for (size_t i = 0; i < c.residual.size(); ++i)
    if (c.output_numerical && c.residual[i] == c.output_label) out_dim = static_cast<int>(i);
  return check_compiled_model(program, c.model, out_dim);
}

CompileCheck check_compiled_model(const rasp::Program& program, const SubjectModel& m, int out_dim) {
  CompileCheck r;
  const size_t d = static_cast<size_t>(m.arch.d_model);
  for (const Input& x : m.domain.enumerate(UINT64_MAX)) {
    const std::vector<Value> want = rasp::evaluate(program, x);
    const std::vector<float> residual = out_dim >= 0 ? subject_residual(m, x) : std::vector<float>{};
    const std::vector<Value> got = subject_predict(m, x);
    bool all = true;
    for (size_t q = 0; q < x.size(); ++q) {
      ++r.positions;
      if (out_dim >= 0)
        r.max_number_error = std::max(r.max_number_error, std::abs(static_cast<double>(residual[q * d + static_cast<size_t>(out_dim)]) -
                                                                   want[q].as_double()));
      if (value_key(want[q]) == value_key(got[q])) {
        ++r.agreeing;
        continue;
      }
      all = false;
      if (r.first_disagreement.empty()) {
        r.first_disagreement = "input " + input_to_json(x) + ", position " + std::to_string(q) + ": model " + value_to_json(got[q]) +
                               ", program " + value_to_json(want[q]);
      }
    }
    ++r.sequences;
    r.sequences_agreeing += all;
  }
  return r;
}

}  // namespace mm::compile

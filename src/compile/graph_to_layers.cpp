// Pass 2: place every node in a sublayer, as tracr does by the longest path from the inputs: an attention
// node goes in the first attention sublayer after all it reads is written, an MLP node in the first MLP
// sublayer after that. Sublayer 2l is layer l's attention, 2l + 1 its MLP; a SelectorWidth takes an
// attention sublayer and the MLP right after it. The embeddings (tokens, indices) are ready before 0.
#include <algorithm>

#include "compile/graph.h"

namespace mm::compile {

void graph_to_layers(Graph& graph) {
  int last = 0;
  for (Node& n : graph.nodes) {
    if (n.kind == NodeKind::Tokens || n.kind == NodeKind::Indices) {
      n.slot = -1;
      continue;
    }
    int after = -1;  // the last sublayer that writes something n reads
    for (int i : n.inputs) after = std::max(after, graph.nodes[static_cast<size_t>(i)].ready());
    n.slot = after + 1;
    const bool attention_slot = n.slot % 2 == 0;
    if (n.is_attention() != attention_slot) ++n.slot;
    last = std::max(last, n.ready());
  }
  graph.n_layers = last / 2 + 1;
}

}  // namespace mm::compile

// `decompile --report`: the page. Data flow: the answer (ranked[0]) run on the verification inputs ->
// agreement by input length and the inputs where it disagrees with the model; the subject's attention on
// the first inputs -> one mean pattern per head; the candidates as ranked; the true program, when known,
// run on the same inputs -> its fidelity, equivalence with the answer, and a line diff.
#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/json_io.h"
#include "core/parallel.h"
#include "report/html.h"
#include "report/report.h"

namespace mm {

namespace {

using html::escape;
using html::percent;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A line diff of `a` (the true program) against `b` (the decompiled one), by longest common subsequence.
std::string line_diff(const std::string& a_text, const std::string& b_text) {
  const auto a = lines_of(a_text), b = lines_of(b_text);
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<int>> lcs(n + 1, std::vector<int>(m + 1, 0));
  for (size_t i = n; i-- > 0;)
    for (size_t j = m; j-- > 0;) lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
  std::string out = "<pre>";
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      out += "  " + escape(a[i]) + "\n", ++i, ++j;
    } else if (j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j])) {
      out += "<span class=\"diff-add\">+ " + escape(b[j]) + "</span>\n", ++j;
    } else {
      out += "<span class=\"diff-del\">- " + escape(a[i]) + "</span>\n", ++i;
    }
  }
  return out + "</pre>";
}

std::string outputs_cell(const std::vector<Value>& mine, const std::vector<Value>& other) {
  if (mine.empty()) return "<span class=\"muted\">(raises)</span>";
  std::string out = "[";
  for (size_t k = 0; k < mine.size(); ++k) {
    const bool differs = k >= other.size() || value_key(mine[k]) != value_key(other[k]);
    if (k) out += ", ";
    const std::string v = escape(value_to_json(mine[k]));
    out += differs ? "<b style=\"color:#b3261e\">" + v + "</b>" : v;
  }
  return out + "]";
}

// One head's mean attention over (position, token) pairs: a heatmap. `cells` is dim x dim, row-major;
// `count` how often each (row, column) pair occurred (0: never; drawn grey).
std::string heatmap(const std::string& title, const std::vector<double>& cells, const std::vector<int64_t>& count,
                    int dim, int group, const std::string& row_name, const std::string& col_name,
                    const std::vector<std::string>& row_labels, const std::vector<std::string>& col_labels) {
  const int cell = std::clamp(300 / std::max(dim, 1), 4, 16), left = 34, top = 30;
  const int w = left + dim * cell + 4, h = top + dim * cell + 4;
  double least = 1e300, most = -1e300;  // the colour scale: white at the head's smallest mean, darkest at its largest
  for (size_t k = 0; k < cells.size(); ++k)
    if (count[k] > 0) least = std::min(least, cells[k]), most = std::max(most, cells[k]);
  if (least > most) least = most = 0;
  const double span = most - least > 1e-9 ? most - least : 1.0;
  std::string out = "<div class=\"head\"><div><b>" + escape(title) + "</b> <span class=\"muted\">" +
                    html::number(least, 2) + "\u2013" + html::number(most, 2) + "</span></div><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    std::to_string(w) + "\" height=\"" + std::to_string(h) + "\" role=\"img\">";
  for (int g = 0; g * group < dim; ++g) {  // group labels: one per position
    const int at = g * group * cell + group * cell / 2;
    out += "<text x=\"" + std::to_string(left + at) + "\" y=\"12\" font-size=\"10\" text-anchor=\"middle\">" + col_name +
           std::to_string(g) + "</text>";
    out += "<text x=\"2\" y=\"" + std::to_string(top + at + 4) + "\" font-size=\"10\">" + row_name + std::to_string(g) + "</text>";
  }
  for (int r = 0; r < dim; ++r)
    for (int c = 0; c < dim; ++c) {
      const size_t k = static_cast<size_t>(r) * dim + c;
      const bool seen = count[k] > 0;
      out += "<rect x=\"" + std::to_string(left + c * cell) + "\" y=\"" + std::to_string(top + r * cell) + "\" width=\"" +
             std::to_string(cell) + "\" height=\"" + std::to_string(cell) + "\" fill=\"" +
             (seen ? html::blue((cells[k] - least) / span) : std::string("#c9ced4")) + "\"><title>" + escape(row_labels[r]) + " \u2192 " +
             escape(col_labels[c]) + ": " + (seen ? html::number(cells[k], 3) : std::string("never occurs")) + "</title></rect>";
    }
  for (int g = 1; g * group < dim; ++g) {  // position boundaries
    const int at = g * group * cell;
    out += "<line x1=\"" + std::to_string(left + at) + "\" y1=\"" + std::to_string(top) + "\" x2=\"" + std::to_string(left + at) +
           "\" y2=\"" + std::to_string(top + dim * cell) + "\" stroke=\"#1d232b\" stroke-width=\"0.6\"/>";
    out += "<line x1=\"" + std::to_string(left) + "\" y1=\"" + std::to_string(top + at) + "\" x2=\"" + std::to_string(left + dim * cell) +
           "\" y2=\"" + std::to_string(top + at) + "\" stroke=\"#1d232b\" stroke-width=\"0.6\"/>";
  }
  return out + "</svg></div>";
}

// Every head's mean attention, from query (position, token) to key (position, token), over the inputs;
// where position x token is too many rows to draw (> 48), by position alone.
std::string attention_section(const SubjectModel& m, const std::vector<Input>& all_inputs, size_t limit, int threads) {
  const InputDomain& d = m.domain;
  const int T = d.len_max, V = static_cast<int>(d.value_max - d.value_min + 1);
  const bool by_token = T * V <= 48;
  const int group = by_token ? V : 1, dim = T * group;
  const int heads = m.arch.n_layers * m.arch.n_heads;
  const std::vector<Input> inputs(all_inputs.begin(), all_inputs.begin() + std::min(limit, all_inputs.size()));
  // Per thread: sums (heads x dim x dim) and counts (dim x dim); merged after.
  const int parts = std::max(1, threads);
  std::vector<std::vector<double>> sums(parts, std::vector<double>(static_cast<size_t>(heads) * dim * dim, 0.0));
  std::vector<std::vector<int64_t>> counts(parts, std::vector<int64_t>(static_cast<size_t>(dim) * dim, 0));
  parallel_for(static_cast<size_t>(parts), parts, [&](size_t part) {
    for (size_t i = part; i < inputs.size(); i += parts) {
      const Input& x = inputs[i];
      const size_t n = x.size();
      const std::vector<float> a = subject_attention(m, x);
      auto row = [&](size_t p) { return static_cast<int>(p) * group + (by_token ? static_cast<int>(x[p] - d.value_min) : 0); };
      for (size_t q = 0; q < n; ++q)
        for (size_t k = 0; k < n; ++k) {
          const size_t cell = static_cast<size_t>(row(q)) * dim + row(k);
          ++counts[part][cell];
          for (int h = 0; h < heads; ++h) sums[part][static_cast<size_t>(h) * dim * dim + cell] += a[(h * n + q) * n + k];
        }
    }
  });
  for (int p = 1; p < parts; ++p) {
    for (size_t k = 0; k < sums[0].size(); ++k) sums[0][k] += sums[p][k];
    for (size_t k = 0; k < counts[0].size(); ++k) counts[0][k] += counts[p][k];
  }
  std::vector<std::string> rows(dim), cols(dim);
  for (int r = 0; r < dim; ++r) {
    const int pos = r / group;
    const std::string tok = by_token ? ", token " + std::to_string(d.value_min + r % group) : "";
    rows[r] = "query at position " + std::to_string(pos) + tok;
    cols[r] = "key at position " + std::to_string(pos) + tok;
  }
  std::string out = "<h2>Attention heads</h2><p class=\"muted\">Each head's attention probability from a query to a key, "
                    "averaged over the " + thousands(static_cast<int64_t>(inputs.size())) + " inputs where both occur. ";
  out += by_token ? "Rows are queries and columns keys, grouped by position (q0, k0, …); within a position, tokens ascend "
                    "from " + std::to_string(d.value_min) + " to " + std::to_string(d.value_max) + ". "
                  : "Rows are query positions and columns key positions (position \u00d7 token would be too many rows). ";
  if (m.arch.compiled()) out += "A compiled model's beginning-of-sequence key is left out: a row's mass short of 1 went to it. ";
  out += "Each head's colours run from white at its own smallest mean to the darkest blue at its largest (the range "
         "beside its name). Grey: the pair never "
         "occurs. Hover a cell for its value.</p><div class=\"heads\">";
  for (int h = 0; h < heads; ++h) {
    std::vector<double> mean(static_cast<size_t>(dim) * dim, 0.0);
    for (size_t k = 0; k < mean.size(); ++k)
      if (counts[0][k]) mean[k] = sums[0][static_cast<size_t>(h) * dim * dim + k] / static_cast<double>(counts[0][k]);
    out += heatmap("layer " + std::to_string(h / m.arch.n_heads) + ", head " + std::to_string(h % m.arch.n_heads), mean,
                   counts[0], dim, group, "q", "k", rows, cols);
  }
  return out + "</div>";
}

}  // namespace

std::string decompile_report_html(const DecompileReportInput& in) {
  const SubjectModel& m = *in.subject;
  const Behaviour& b = *in.behaviour;
  const DecompileResult& r = *in.result;
  if (r.ranked.empty() || !r.ranked.front().parses) throw Error("the report needs a decompiled program; the search found none");
  const Language& lang = language_by_name(m.language);
  const auto program = lang.detokenize(r.ranked.front().tokens);
  const Outputs mine = run_on(*program, b.inputs);
  const Agreement fidelity = count_agreement(mine, b.outputs, b.inputs);

  std::string body = "<h1>What <code>" + escape(std::filesystem::path(in.model_path).filename().string()) + "</code> computes</h1>";
  body += "<p class=\"muted\">" + escape(m.language == "rasp" ? "RASP" : "list-Python") + " subject, " +
          escape(m.arch.block) + " blocks: d_model " + std::to_string(m.arch.d_model) + ", " + std::to_string(m.arch.n_layers) +
          " layers, " + std::to_string(m.arch.n_heads) + " heads, " + thousands(parameter_count(m.arch)) + " parameters; inputs " +
          escape(m.domain.describe()) + "; " + std::to_string(m.classes.size()) + " output classes";
  if (auto it = m.info.find("accuracy"); it != m.info.end()) body += "; trained to accuracy " + escape(it->second);
  body += ". " + escape(in.how) + "</p>";

  // The answer and its fidelity, overall and by input length.
  body += "<h2>The decompiled program</h2><pre>" + escape(program->text()) + "</pre>";
  body += "<p><b>Fidelity</b> (agreement with the model's own outputs): " + escape(describe_fidelity(fidelity, b)) + ".</p>";
  std::map<size_t, Agreement> by_len;
  std::vector<Agreement> each(b.inputs.size());  // per input
  for (size_t i = 0; i < b.inputs.size(); ++i) {
    Agreement& a = by_len[b.inputs[i].size()];
    const Agreement& one = each[i] = count_agreement({mine[i]}, {b.outputs[i]}, {b.inputs[i]});
    a.positions += one.positions, a.positions_total += one.positions_total;
    a.sequences += one.sequences, a.sequences_total += one.sequences_total;
  }
  body += "<table><tr><th>input length</th><th>inputs</th><th>positions agreeing</th><th>sequences agreeing</th></tr>";
  std::vector<html::Bar> bars;
  for (const auto& [len, a] : by_len) {
    body += "<tr><td class=\"num\">" + std::to_string(len) + "</td><td class=\"num\">" + thousands(a.sequences_total) +
            "</td><td class=\"num\">" + percent(a.position_rate()) + "</td><td class=\"num\">" + percent(a.sequence_rate()) + "</td></tr>";
    bars.push_back({"length " + std::to_string(len) + ", sequences", a.sequence_rate()});
  }
  body += "</table>" + html::bar_chart(bars);

  // Where they disagree: the first inputs in domain order (shortest first).
  std::vector<size_t> order(b.inputs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    return b.inputs[x].size() != b.inputs[y].size() ? b.inputs[x].size() < b.inputs[y].size() : b.inputs[x] < b.inputs[y];
  });
  std::vector<size_t> wrong;
  for (size_t i : order)
    if (each[i].sequences == 0) wrong.push_back(i);
  body += "<h2>Where the model and the program disagree</h2>";
  if (wrong.empty()) {
    body += "<p class=\"good\">Nowhere: they agree on every one of the " + thousands(static_cast<int64_t>(b.inputs.size())) + " inputs.</p>";
  } else {
    body += "<p>" + thousands(static_cast<int64_t>(wrong.size())) + " of " + thousands(static_cast<int64_t>(b.inputs.size())) +
            " inputs; the first " + std::to_string(std::min(wrong.size(), in.max_disagreements)) +
            " (shortest first), differing positions in red:</p><table><tr><th>input</th><th>model</th><th>program</th></tr>";
    for (size_t k = 0; k < wrong.size() && k < in.max_disagreements; ++k) {
      const size_t i = wrong[k];
      body += "<tr><td><code>" + escape(input_to_json(b.inputs[i])) + "</code></td><td><code>" +
              outputs_cell(b.outputs[i], mine[i]) + "</code></td><td><code>" + outputs_cell(mine[i], b.outputs[i]) + "</code></td></tr>";
    }
    body += "</table>";
  }

  body += attention_section(m, b.inputs, in.attention_inputs, in.threads);

  // Every candidate, as ranked.
  body += "<h2>Candidates tried</h2><p class=\"muted\">" + std::to_string(r.ranked.size()) +
          " distinct programs, most faithful first (ties: the smaller, then the mapper's likelier).</p>"
          "<table><tr><th>#</th><th>origin</th><th>positions</th><th>sequences</th><th>program</th></tr>";
  const size_t shown = std::min<size_t>(r.ranked.size(), 50);
  for (size_t k = 0; k < shown; ++k) {
    const Candidate& c = r.ranked[k];
    std::string origin = c.origin;
    if (!c.edits.empty()) origin += "; repaired by " + std::to_string(c.edits.size()) + " edit" + (c.edits.size() > 1 ? "s" : "");
    const std::string text = c.parses ? lang.detokenize(c.tokens)->text() : std::string("(does not parse)");
    body += "<tr" + std::string(k == 0 ? " class=\"good\"" : "") + "><td class=\"num\">" + std::to_string(k + 1) + "</td><td>" +
            escape(origin) + "</td><td class=\"num\">" + percent(c.agreement.position_rate()) + "</td><td class=\"num\">" +
            percent(c.agreement.sequence_rate()) + "</td><td><details><summary>" +
            escape(std::to_string(c.tokens.size()) + " tokens") + "</summary><pre>" + escape(text) + "</pre></details></td></tr>";
  }
  body += "</table>";
  if (shown < r.ranked.size()) body += "<p class=\"muted\">(" + std::to_string(r.ranked.size() - shown) + " more not shown)</p>";

  // The true program, where known.
  body += "<h2>The true program</h2>";
  if (in.truth.empty()) {
    body += "<p class=\"muted\">Not known (give <code>--truth FILE</code>, e.g. from <code>corpus export --program</code>).</p>";
  } else {
    std::unique_ptr<Program> truth;
    try {
      truth = lang.parse(in.truth);
    } catch (const std::exception& e) {
      body += "<p class=\"bad\">The true program (" + escape(in.truth_from) + ") does not parse: " + escape(e.what()) + "</p>";
    }
    if (truth) {
      const Outputs t = run_on(*truth, b.inputs);
      const Agreement tf = count_agreement(t, b.outputs, b.inputs), same = count_agreement(mine, t, b.inputs);
      const bool equivalent = same.sequences == same.sequences_total;
      body += "<p class=\"muted\">From " + escape(in.truth_from) + ".</p><pre>" + escape(truth->text()) + "</pre>";
      body += "<p>Its fidelity to the model: " + escape(describe_fidelity(tf, b)) + ".<br>The decompiled program " +
              (equivalent ? "<b>is equivalent to it</b> on all " + thousands(same.sequences_total) + " inputs"
                          : "agrees with it on " + percent(same.position_rate()) + " of positions and " +
                                percent(same.sequence_rate()) + " of inputs") + ".</p>";
      body += "<p>Line diff, true program (−) to decompiled (+):</p>" + line_diff(truth->text(), program->text());
    }
  }
  return html::page("modelmap decompile: " + std::filesystem::path(in.model_path).filename().string(), body);
}

}  // namespace mm

// `eval --report`: the page. One section per method (greedy, best of K, repair, synthesis): the metrics
// of every row for the mapper beside the floor (and the search alone), a bar chart of the "all" row, and
// a histogram of per-view fidelity.
#include <algorithm>
#include <cmath>

#include "mapper/evaluate.h"
#include "report/html.h"
#include "report/report.h"

namespace mm {

namespace {

using html::escape;
using html::percent;

struct Metric {
  const char* name;
  double ScoreSummary::*field;
};

std::vector<Metric> metrics_of(const ScoreSummary& s) {
  std::vector<Metric> out = {{"token acc.", &ScoreSummary::token_accuracy}};
  if (s.has_bpe) out.push_back({"GPT-2 token acc.", &ScoreSummary::bpe_token_accuracy});
  if (s.has_output_first) out.push_back({"token acc. (output first)", &ScoreSummary::output_first_token_accuracy});
  out.push_back({"exact match", &ScoreSummary::exact});
  out.push_back({"func. equiv.", &ScoreSummary::equivalent});
  out.push_back({"fidelity (pos.)", &ScoreSummary::fidelity_position});
  out.push_back({"fidelity (seq.)", &ScoreSummary::fidelity_sequence});
  out.push_back({"parses", &ScoreSummary::parses});
  if (s.has_sampled) {
    out.push_back({"token acc. as sampled", &ScoreSummary::sampled_token_accuracy});
    out.push_back({"exact as sampled", &ScoreSummary::sampled_exact});
  }
  return out;
}

const char* kMapper = "#3b6fb6";
const char* kFloor = "#9aa5b1";
const char* kAlone = "#d08a2e";

// Grouped bars: per-view fidelity in 11 bins (0-10%, ..., 90-100%, and exactly 100%), one colour per series.
std::string histogram(const std::vector<std::pair<std::string, const std::vector<double>*>>& series,
                      const std::vector<const char*>& colours) {
  const int bins = 11, bin_w = 56, chart_h = 160, left = 40, top = 24, bottom = 34;
  std::vector<std::vector<double>> share(series.size(), std::vector<double>(bins, 0));
  double most = 0;
  for (size_t s = 0; s < series.size(); ++s) {
    const auto& v = *series[s].second;
    for (double f : v) {
      const int b = f >= 1.0 ? 10 : std::clamp(static_cast<int>(std::floor(f * 10)), 0, 9);
      share[s][b] += 1.0 / static_cast<double>(std::max<size_t>(v.size(), 1));
    }
    for (double x : share[s]) most = std::max(most, x);
  }
  most = most > 0 ? most : 1;
  const int w = left + bins * bin_w + 10, h = top + chart_h + bottom;
  std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(w) + "\" height=\"" +
                    std::to_string(h + 20) + "\" role=\"img\">";
  out += "<line x1=\"" + std::to_string(left) + "\" y1=\"" + std::to_string(top + chart_h) + "\" x2=\"" +
         std::to_string(left + bins * bin_w) + "\" y2=\"" + std::to_string(top + chart_h) + "\" stroke=\"#1d232b\"/>";
  out += "<text x=\"0\" y=\"" + std::to_string(top - 8) + "\" font-size=\"11\">share of views (max " + percent(most, 0) + ")</text>";
  const int group_w = bin_w - 8, bar_w = group_w / static_cast<int>(std::max<size_t>(series.size(), 1));
  for (int b = 0; b < bins; ++b) {
    const int x0 = left + b * bin_w + 4;
    for (size_t s = 0; s < series.size(); ++s) {
      const double bh = share[s][b] / most * chart_h;
      out += "<rect x=\"" + std::to_string(x0 + static_cast<int>(s) * bar_w) + "\" y=\"" + html::number(top + chart_h - bh, 1) +
             "\" width=\"" + std::to_string(bar_w - 1) + "\" height=\"" + html::number(bh, 1) + "\" fill=\"" + colours[s] +
             "\"><title>" + escape(series[s].first) + ": " + percent(share[s][b]) + " of views</title></rect>";
    }
    const std::string label = b == 10 ? "100%" : std::to_string(b * 10) + "\u2013" + std::to_string(b * 10 + 10);
    out += "<text x=\"" + std::to_string(x0 + group_w / 2) + "\" y=\"" + std::to_string(top + chart_h + 14) +
           "\" font-size=\"10\" text-anchor=\"middle\">" + label + "</text>";
  }
  out += "<text x=\"" + std::to_string(left) + "\" y=\"" + std::to_string(top + chart_h + 30) +
         "\" font-size=\"11\">fidelity per position to the subject model (%)</text>";
  int lx = left + 300;
  for (size_t s = 0; s < series.size(); ++s) {
    out += "<rect x=\"" + std::to_string(lx) + "\" y=\"" + std::to_string(top + chart_h + 21) + "\" width=\"10\" height=\"10\" fill=\"" +
           colours[s] + "\"/><text x=\"" + std::to_string(lx + 14) + "\" y=\"" + std::to_string(top + chart_h + 30) +
           "\" font-size=\"11\">" + escape(series[s].first) + "</text>";
    lx += 150;
  }
  return out + "</svg>";
}

}  // namespace

std::string eval_report_html(const EvalReport& r, const std::string& title) {
  std::string body = "<h1>" + escape(title) + "</h1><p class=\"muted\">" +
                     escape(r.language == "rasp" ? "RASP" : "list-Python") + " corpus, the mapper's test split (split by " +
                     escape(r.split) + "), " + thousands(r.views) + " views";
  if (!r.encoder.empty()) body += ", encoder " + escape(r.encoder) + ", writes " + escape(r.order);
  body += "; " + html::number(r.seconds, 1) + " s. Token accuracy and exact match are against each program's reduced form "
          "(the simplest program equivalent on the whole domain); functional equivalence is with the true program on "
          "every evaluation input; fidelity is agreement with the subject model's own outputs.</p>";
  for (const MethodReport& method : r.methods) {
    const bool mapper = !method.mapper.empty(), floor = !method.floor.empty(), alone = !method.alone.empty();
    const auto& main = mapper ? method.mapper : method.alone;
    const auto metrics = metrics_of(main.at("all"));
    body += "<h2>" + escape(method.name) + "</h2>";
    // The table: per row, each metric with its sub-columns.
    std::vector<std::pair<std::string, const std::map<std::string, ScoreSummary>*>> cols;
    if (mapper) cols.push_back({"mapper", &method.mapper});
    if (floor) cols.push_back({"floor", &method.floor});
    if (alone) cols.push_back({"alone", &method.alone});
    body += "<div style=\"overflow-x:auto\"><table class=\"wide\"><tr><th rowspan=\"2\">subjects</th><th rowspan=\"2\">n</th>";
    for (const Metric& m : metrics) body += "<th colspan=\"" + std::to_string(cols.size()) + "\">" + escape(m.name) + "</th>";
    body += "</tr><tr>";
    for (size_t k = 0; k < metrics.size(); ++k)
      for (const auto& c : cols) body += "<th>" + escape(c.first) + "</th>";
    body += "</tr>";
    for (const std::string& row : r.rows) {
      if (!main.count(row)) continue;
      body += "<tr><td class=\"row\">" + escape(row) + "</td><td class=\"num\">" + thousands(main.at(row).n) + "</td>";
      for (const Metric& m : metrics)
        for (size_t c = 0; c < cols.size(); ++c) {
          const auto it = cols[c].second->find(row);
          if (it == cols[c].second->end()) {
            body += "<td></td>";
            continue;
          }
          const double v = it->second.mean().*(m.field);
          std::string cls = "num";
          if (c == 0 && mapper && floor) {  // the mapper's cell, marked against the floor's
            const auto f = method.floor.find(row);
            if (f != method.floor.end()) {
              const double fv = f->second.mean().*(m.field);
              cls += v > fv + 1e-12 ? " good" : v < fv - 1e-12 ? " bad" : "";
            }
          }
          body += "<td class=\"" + cls + "\">" + percent(v) + "</td>";
        }
      body += "</tr>";
    }
    body += "</table></div>";
    if (mapper && floor) body += "<p class=\"muted\">Green: the mapper above its no-weights floor; red: below it.</p>";
    // The "all" row as bars: the headline metrics.
    std::vector<html::Bar> bars;
    for (const Metric& m : metrics)
      if (m.field == &ScoreSummary::token_accuracy || m.field == &ScoreSummary::exact ||
          m.field == &ScoreSummary::equivalent || m.field == &ScoreSummary::fidelity_position)
      for (size_t c = 0; c < cols.size(); ++c)
        bars.push_back({std::string(m.name) + " \u00b7 " + cols[c].first, cols[c].second->at("all").mean().*(m.field),
                        c == 0 && mapper ? kMapper : cols[c].first == "floor" ? kFloor : kAlone});
    body += html::bar_chart(bars, 620, 210);
    std::vector<std::pair<std::string, const std::vector<double>*>> series;
    std::vector<const char*> colours;
    if (mapper) series.push_back({"mapper", &method.mapper_fidelity}), colours.push_back(kMapper);
    if (floor) series.push_back({"floor", &method.floor_fidelity}), colours.push_back(kFloor);
    if (alone) series.push_back({"search alone", &method.alone_fidelity}), colours.push_back(kAlone);
    body += "<h3>Fidelity per view</h3>" + histogram(series, colours);
    if (method.seconds_per_view > 0 || method.alone_seconds_per_view > 0)
      body += "<p class=\"muted\">Seconds per view: " +
              (mapper ? "mapper " + html::number(method.seconds_per_view, 2) : std::string()) +
              (floor ? ", floor " + html::number(method.floor_seconds_per_view, 2) : std::string()) +
              (alone ? std::string(mapper ? ", " : "") + "alone " + html::number(method.alone_seconds_per_view, 2) : std::string()) +
              ".</p>";
  }
  return html::page(title, body);
}

}  // namespace mm

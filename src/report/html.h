// Small helpers for the report pages: escaping, numbers, colours, and the page's frame. Internal to
// src/report.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mm::html {

std::string escape(std::string_view text);            // & < > " '
std::string percent(double rate, int decimals = 1);   // 0.9731 -> "97.3%"
std::string number(double v, int decimals = 2);
// A colour from white (0) to deep blue (1), as "#rrggbb".
std::string blue(double v);
// The page around `body`: doctype, charset, title, the shared style sheet.
std::string page(std::string_view title, std::string_view body);
// A horizontal bar chart (SVG): one bar per label, value in 0..1, drawn as a percentage.
struct Bar {
  std::string label;
  double value = 0;
  std::string colour = "#3b6fb6";
};
std::string bar_chart(const std::vector<Bar>& bars, int width = 420, int label_width = 150);

}  // namespace mm::html

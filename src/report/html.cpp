// Report page helpers.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "report/html.h"

namespace mm::html {

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string percent(double rate, int decimals) {
  char b[32];
  std::snprintf(b, sizeof b, "%.*f%%", decimals, 100 * rate);
  return b;
}

std::string number(double v, int decimals) {
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

std::string blue(double v) {
  v = std::clamp(std::isfinite(v) ? v : 0.0, 0.0, 1.0);
  const int r = static_cast<int>(std::lround(255 - v * (255 - 8)));
  const int g = static_cast<int>(std::lround(255 - v * (255 - 48)));
  const int b = static_cast<int>(std::lround(255 - v * (255 - 107)));
  char out[8];
  std::snprintf(out, sizeof out, "#%02x%02x%02x", r, g, b);
  return out;
}

std::string page(std::string_view title, std::string_view body) {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>";
  out += escape(title);
  out += "</title>\n<style>\n"
         "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1100px;"
         "color:#1d232b;background:#fff;line-height:1.4;padding:0 16px}\n"
         "h1{font-size:1.5em;margin-bottom:4px}h2{font-size:1.15em;margin-top:28px;border-bottom:1px solid #d8dde3;"
         "padding-bottom:4px}\n"
         "pre{background:#f4f6f8;padding:10px 12px;border-radius:4px;overflow-x:auto;font-size:13px}\n"
         "table{border-collapse:collapse;font-size:13px;margin:8px 0}\n"
         "th,td{border:1px solid #d8dde3;padding:3px 8px;text-align:left;vertical-align:top}\n"
         "th{background:#eef1f4}table.wide{font-size:12px}table.wide th,table.wide td{padding:2px 5px}"
         "td.row{white-space:nowrap}\n"
         "td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
         ".muted{color:#66707a}.bad{background:#fde2e1}.good{background:#e3f4e1}\n"
         ".diff-del{background:#fde2e1}.diff-add{background:#e3f4e1}\n"
         ".heads{display:flex;flex-wrap:wrap;gap:18px}.head{font-size:12px}\n"
         "code{font-size:13px}details summary{cursor:pointer}\n"
         "</style>\n</head>\n<body>\n";
  out += body;
  out += "\n</body>\n</html>\n";
  return out;
}

std::string bar_chart(const std::vector<Bar>& bars, int width, int label_w) {
  const int bar_w = width - label_w - 60, row = 20;
  const int height = static_cast<int>(bars.size()) * row + 4;
  std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) + "\" height=\"" +
                    std::to_string(height) + "\" role=\"img\">";
  for (size_t k = 0; k < bars.size(); ++k) {
    const int y = static_cast<int>(k) * row + 2;
    const double v = std::clamp(bars[k].value, 0.0, 1.0);
    out += "<text x=\"0\" y=\"" + std::to_string(y + 14) + "\" font-size=\"12\">" + escape(bars[k].label) + "</text>";
    out += "<rect x=\"" + std::to_string(label_w) + "\" y=\"" + std::to_string(y + 2) + "\" width=\"" +
           std::to_string(bar_w) + "\" height=\"" + std::to_string(row - 6) + "\" fill=\"#eef1f4\"/>";
    out += "<rect x=\"" + std::to_string(label_w) + "\" y=\"" + std::to_string(y + 2) + "\" width=\"" +
           number(v * bar_w, 1) + "\" height=\"" + std::to_string(row - 6) + "\" fill=\"" + bars[k].colour + "\"/>";
    out += "<text x=\"" + std::to_string(label_w + bar_w + 6) + "\" y=\"" + std::to_string(y + 14) +
           "\" font-size=\"12\">" + percent(v) + "</text>";
  }
  return out + "</svg>";
}

}  // namespace mm::html

// reports/render/report.h — `sinkbench report`: renders one or more results files into report.md
// (GitHub-flavoured Markdown) and a self-contained index.html whose Vega-Lite charts and sortable
// tables work offline (the vega, vega-lite and vega-embed bundles are inlined; the page's own
// HTML, JS and CSS are reports/web/, compiled in). Both open with the answer: the verdict, the
// pass/fail matrix and the failures. docs/reports.md.
#pragma once

#include <string>
#include <vector>

namespace sinkbench {

struct ReportOptions {
  std::vector<std::string> inputs;  // results files, rendered together
  std::string out_dir = "report";
  // Folder holding vega/, vega-lite/ and vega-embed/ (reports/web/node_modules); empty: the
  // SINKBENCH_WEB_DIR environment variable, else the source tree's.
  std::string web_dir;
  int worst = 15;  // rows of the worst-cases table
};

struct ReportFiles {
  std::string markdown, html;
};

// A part of the report an area adds beside the built-in ones (e.g. gradients): its Markdown
// (with its own "## " heading) and an HTML fragment placed after the floor-ratio chart. Each is
// built from the files being rendered and added by one line in write_report.
struct ReportSection {
  std::string markdown, html;
};

// Throws InputError naming the file: an unreadable input, a missing bundle (with the command that
// installs it), an unwritable out_dir.
ReportFiles write_report(const ReportOptions& opt);

// The folder write_report reads the bundles from when opt.web_dir is empty.
std::string default_web_dir();

}  // namespace sinkbench

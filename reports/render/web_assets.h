// reports/render/web_assets.h — the report page's files (reports/web/index.html, report.js,
// report.css), compiled into the binary at build time by cmake/embed.cmake.
#pragma once

#include <string_view>

namespace sinkbench::web {

extern const std::string_view index_html;  // skeleton with @TITLE@, @STYLE@, ... markers
extern const std::string_view report_js;
extern const std::string_view report_css;

}  // namespace sinkbench::web

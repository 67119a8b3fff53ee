// cases/filter.h — `--filter` expressions over case fields: comma-separated clauses
// `field OP value` (OP one of = == != < <= > >=; = and == both mean equal), all of which must
// hold, e.g. "dtype=bf16,mask=causal,sk>=1024". Any other run of =!<> characters is refused.
// Suite exclusions use the same language.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cases/case_spec.h"

namespace sinkbench {

class Filter {
 public:
  Filter() = default;
  // Throws InputError naming `where`, the clause and the valid fields or operators.
  static Filter parse(std::string_view expr, const std::string& where = "--filter");
  bool matches(const CaseSpec& c) const;
  bool empty() const { return clauses_.empty(); }
  const std::string& text() const { return text_; }

  struct Clause {
    std::string field;
    std::string op;
    std::string value;
    double number = 0;
    bool numeric = false;
  };

 private:
  std::vector<Clause> clauses_;
  std::string text_;
};

// Names accepted on the left of a clause, for messages and `sinkbench list`.
std::vector<std::string> filter_fields();

}  // namespace sinkbench

// impls/lse_renorm/lse_renorm_cpu.cpp — CPU reference of the lse_renorm family (being written; registers nothing yet).
#include "impls/families.h"

namespace sinkbench {

void add_lse_renorm_cpu(ImplList& out) {}

}  // namespace sinkbench

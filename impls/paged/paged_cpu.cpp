// impls/paged/paged_cpu.cpp — CPU reference of the paged family (being written; registers nothing yet).
#include "impls/families.h"

namespace sinkbench {

void add_paged_cpu(ImplList& out) {}

}  // namespace sinkbench

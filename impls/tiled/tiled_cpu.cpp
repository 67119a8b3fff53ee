// impls/tiled/tiled_cpu.cpp — CPU reference of the tiled family (being written; registers nothing yet).
#include "impls/families.h"

namespace sinkbench {

void add_tiled_cpu(ImplList& out) {}

}  // namespace sinkbench

// impls/eager_concat/eager_concat_cpu.cpp — CPU reference of the eager_concat family (being written; registers nothing yet).
#include "impls/families.h"

namespace sinkbench {

void add_eager_concat_cpu(ImplList& out) {}

}  // namespace sinkbench

// Compiled with KB_GIT_COMMIT / KB_GIT_DIRTY describing the kb sources (see
// the top-level CMakeLists.txt), so each kb binary knows what it was built from.
#include "libkb/metadata/metadata.h"

#ifndef KB_GIT_COMMIT
#define KB_GIT_COMMIT ""
#endif
#ifndef KB_GIT_DIRTY
#define KB_GIT_DIRTY false
#endif

namespace kb::metadata {

BuilderProvenance kb_provenance() {
  BuilderProvenance provenance;
  provenance.version = std::string("kb ") + KB_VERSION;
  std::string_view commit = KB_GIT_COMMIT;
  // An empty or unexpected commit string means the sources were not a git checkout.
  if (git::is_object_id(commit)) provenance.git = CommitState{git::parse_object_id(commit), KB_GIT_DIRTY};
  return provenance;
}

Provenance build_provenance(const std::optional<std::filesystem::path>& kernel_dir) {
  Provenance provenance;
  provenance.kernel_builder = kb_provenance();
  if (kernel_dir) provenance.kernel = git::kernel_provenance(*kernel_dir);
  return provenance;
}

}  // namespace kb::metadata

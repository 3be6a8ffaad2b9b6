// kb_git_state.h (written at build time by cmake/git-state.cmake) describes
// the kb sources, so each kb binary knows what it was built from.
#include "kb_git_state.h"
#include "libkb/metadata/metadata.h"

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

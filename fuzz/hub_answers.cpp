// The Hugging Face Hub's answers: revision, refs, tree pages, organisation
// overview, preupload, LFS batch and commit JSON, Link and Retry-After
// headers. The first byte picks the reader; the rest is what the hub sent.
#include "fuzz/fuzz_support.h"
#include "libkb/http/client.h"
#include "libkb/hub/hf_answers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kb;
  namespace answers = hub::answers;
  if (size == 0) return 0;
  std::string_view body = fuzz::text(data + 1, size - 1);
  const std::string what = "fuzzing";
  switch (data[0] % 10) {
    case 0:
      fuzz::accepted([&] {
        std::string sha = answers::revision_commit(body, what);
        fuzz::require(sha.size() == 40 || sha.size() == 64, "a revision is a 40 or 64 digit commit");
      });
      break;
    case 1:
      fuzz::accepted([&] { answers::branches(body, what); });
      break;
    case 2:
    case 3:
      fuzz::accepted([&] {
        for (const hub::TreeEntry& e : answers::tree_page(body, data[0] % 10 == 2, what))
          fuzz::require(!e.lfs_sha256 || e.lfs_sha256->size() == 64, "an LFS oid has 64 digits");
      });
      break;
    case 4:
      fuzz::accepted([&] { answers::trusted_publisher(body, what); });
      break;
    case 5:
      fuzz::accepted([&] { answers::upload_modes(body, what); });
      break;
    case 6:
      fuzz::accepted([&] { answers::lfs_batch(body, what); });
      break;
    case 7:
      fuzz::accepted([&] { answers::commit(body, data[0] & 0x80, what); });
      break;
    case 8:
      answers::error_detail(body);
      break;
    case 9:
      http::next_link(std::string(body));
      http::parse_retry_after(std::string(body));
      break;
  }
  return 0;
}

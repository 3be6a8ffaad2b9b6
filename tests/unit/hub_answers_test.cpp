// libkb/hub/hf_answers: what kb makes of the Hub's JSON answers, including
// answers of the wrong shape, the wrong types or values that lie (commits that
// are not commit ids, sizes that are not sizes): always a kb::Error saying
// what was being done and what is wrong, never a JSON library exception.
#include <gtest/gtest.h>

#include "libkb/hub/hf_answers.h"
#include "libkb/lock/lockfile.h"
#include "libkb/metadata/metadata.h"
#include "tests/unit/support.h"

using namespace kb;
using namespace kb::hub;
using kb::testing::contains;
using kb::testing::error_of;

namespace {

const std::string kSha = "ece277f908b9453112722d584fee4b5696f21c49";
const std::string kWhat = "listing org/k";

}  // namespace

TEST(HubAnswers, ReadsWellFormedAnswers) {
  EXPECT_EQ(answers::revision_commit(R"({"sha": ")" + std::string("ECE277F908B9453112722D584FEE4B5696F21C49") + R"("})", kWhat),
            kSha);
  auto refs = answers::branches(R"({"branches": [{"name": "v1", "targetCommit": ")" + kSha + R"("}]})", kWhat);
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs[0].name, "v1");
  auto tree = answers::tree_page(R"([{"type": "directory", "path": "build", "oid": "x"},
    {"type": "file", "path": "build/a.so", "oid": "1234", "size": 9, "lfs": {"oid": ")" + std::string(64, 'A') +
                                     R"(", "size": 1048576}}])",
                                 true, kWhat);
  ASSERT_EQ(tree.size(), 1u);
  EXPECT_EQ(tree[0].size, 1048576u);
  EXPECT_EQ(*tree[0].lfs_sha256, std::string(64, 'a'));
  EXPECT_TRUE(answers::trusted_publisher(R"({"trustedKernelPublisher": true})", kWhat));
  EXPECT_FALSE(answers::trusted_publisher(R"({"trustedKernelPublisher": null})", kWhat));
  auto modes = answers::upload_modes(R"({"files": [{"path": "a.so", "uploadMode": "lfs", "shouldIgnore": false}]})", kWhat);
  EXPECT_TRUE(modes["a.so"].lfs);
  auto lfs = answers::lfs_batch(R"({"objects": [{"oid": "o", "actions": {"upload": {"href": "http://127.0.0.1/u",
    "header": {"A": "b", "N": 1}}}}, {"oid": "p", "error": {"message": "too big"}}]})",
                                kWhat);
  ASSERT_EQ(lfs.size(), 2u);
  EXPECT_EQ(lfs[0].upload->headers.size(), 1u);
  EXPECT_FALSE(lfs[0].verify);
  EXPECT_EQ(*lfs[1].error, "too big");
  auto commit = answers::commit(R"({"commitOid": ")" + kSha + R"(", "pullRequestUrl": "http://h/discussions/4"})",
                                true, kWhat);
  EXPECT_EQ(commit.pull_request_url, "http://h/discussions/4");
}

TEST(HubAnswers, ALyingOrMalformedHubGetsAClearError) {
  auto refused = [](auto&& read) {
    std::string m = error_of(read);
    EXPECT_TRUE(contains(m, kWhat + ": ")) << m;
    return m;
  };
  EXPECT_TRUE(contains(refused([] { answers::revision_commit("{", kWhat); }), "malformed JSON"));
  EXPECT_TRUE(contains(refused([] { answers::revision_commit(R"({"sha": "../../etc"})", kWhat); }),
                       "is not a commit id (40 or 64 hex digits): ../../etc"));
  EXPECT_TRUE(contains(refused([] { answers::revision_commit(R"({"sha": 5})", kWhat); }), "no `sha`"));
  EXPECT_TRUE(contains(refused([] { answers::branches(R"({"branches": {}})", kWhat); }), "no `branches` list"));
  EXPECT_TRUE(contains(refused([] { answers::branches(R"({"branches": [5]})", kWhat); }), "no `name`"));
  EXPECT_TRUE(contains(refused([] { answers::tree_page(R"({"entries": []})", false, kWhat); }),
                       "expected a list of entries"));
  EXPECT_TRUE(contains(refused([] { answers::tree_page(R"([{"type": "file", "path": "a", "size": -1}])", false, kWhat); }),
                       "entry 1 (a) has a `size` that is not a non-negative integer"));
  EXPECT_TRUE(contains(refused([] { answers::tree_page(R"([{"type": "file", "path": "a", "size": "9"}])", false, kWhat); }),
                       "not a non-negative integer"));
  EXPECT_TRUE(contains(refused([] { answers::tree_page(R"([{"type": "file", "path": "a", "oid": 7}])", false, kWhat); }),
                       "`oid` that is not a string"));
  EXPECT_TRUE(contains(
      refused([] { answers::tree_page(R"([{"type": "file", "path": "a", "lfs": {"oid": "short"}}])", false, kWhat); }),
      "LFS oid that is not 64 hex digits: short"));
  EXPECT_TRUE(contains(refused([] { answers::lfs_batch(R"({"objects": [{"oid": "o", "actions": 3}]})", kWhat); }),
                       "are not an object"));
  EXPECT_TRUE(contains(
      refused([] { answers::lfs_batch(R"({"objects": [{"oid": "o", "actions": {"upload": {}}}]})", kWhat); }),
      "the hub's `upload` action has no `href`"));
  EXPECT_TRUE(contains(refused([] { answers::commit(R"({"commitOid": ")" + kSha + R"("})", true, kWhat); }),
                       "opened no pull request"));
  // A long lie is shortened in the message.
  std::string m = refused([] { answers::revision_commit(R"({"sha": ")" + std::string(5000, 'z') + R"("})", kWhat); });
  EXPECT_LT(m.size(), 300u);
}

TEST(HubAnswers, ErrorDetailPrefersTheErrorMember) {
  EXPECT_EQ(answers::error_detail(R"({"error": "Repository not found"})"), "Repository not found");
  EXPECT_EQ(answers::error_detail("  plain text  "), "plain text");
  EXPECT_EQ(answers::error_detail(""), "no details");
  EXPECT_EQ(answers::error_detail(std::string(1000, 'x')).size(), 300u);
}

// Fuzzing found these (tests/fuzz/kernels_lock, tests/fuzz/metadata_json): a
// number too large for JSON's number types escaped as a JSON library error.
TEST(HubAnswers, NumbersTooLargeInLockAndMetadataFilesAreNamedErrors) {
  std::string m = error_of([] { lock::parse_lock_file(R"([{"repo_id": "a/b", "x": 1e999999}])", "proj/kernels.lock"); });
  EXPECT_TRUE(contains(m, "proj/kernels.lock: not valid JSON: number overflow")) << m;
  m = error_of([] { metadata::parse_metadata(R"({"name": "relu", "version": 1e400})", "build/x/metadata.json"); });
  EXPECT_TRUE(contains(m, "build/x/metadata.json")) << m;
  EXPECT_TRUE(contains(m, "number overflow")) << m;
}

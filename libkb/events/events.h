#pragma once
// The JSON Lines event stream that kb-* tools exchange on stdout.
//
// Rules
//  - One JSON object per line, flushed per line. Every object has "event"
//    (kebab-case). Unknown fields are ignored by readers.
//  - A tool forwards every event it does not consume, unchanged and in order,
//    and acts on each event the moment it arrives.
//  - Failures are "error" events plus a non-zero exit; human progress goes to
//    stderr only.
//  - Events are validated as they are read (fields.h: one typed struct per
//    event a tool acts on): a missing or wrong-typed field is an "error"
//    event naming the event, the field and the type expected, then
//    finished{success:false}. Every tool runs under tools/support/tool_main.h,
//    which reports a failure escaping a tool the same way once the tool has
//    begun its stream (usage errors: exit 2).
//  - The first event, "project", carries "format" (kFormatVersion in
//    fields.h); a reader refuses a newer major format it does not know.
//
// Events (fields marked ? are optional)
//  project           tool, format (event format version, 1), kernel_dir,
//                    project_dir, scratch_dir? (see pipeline/scratch.h),
//                    name, module, version,
//                    framework ("torch"|"torch-noarch"|"tvm-ffi"), backends[],
//                    unique_id, strict (bool), build_layout? ("files"|"zip";
//                    absent: files)
//  variant-planned   tool, variant, backend, kind ("arch"|"noarch"), kernel_dir,
//                    project_dir, scratch_dir?, ops_name, python?, torch_version?,
//                    cuda_version?, nvcc?, cmake_args[]?
//  variant-skipped   tool, backend, reason, variant?
//  variant-built     tool, variant, backend, kind, kernel_dir, dir, artifacts[]
//                    (paths relative to dir), seconds, up_to_date (bool)
//  abi-checked       tool, variant, dir, ok (no violations), portable,
//                    policy, python_abi, files[{file, ok, violations[{kind,
//                    symbol, detail}]}], error?
//                    (kb-checkabi emits it just before forwarding the
//                    variant-built event it checked)
//  symbols-written   tool, variant, dir, path (symbols.json), functions, layers
//                    (counts; kb-symbols emits it just before forwarding the
//                    variant-built event it handled)
//  variant-packaged  tool, variant, dir, portable, metadata{...}
//  kernel-locked     tool, repo_id, sha, and for a structured lock (every
//                    kernel of the trees) version or revision; for a legacy
//                    lock (the redirect destination when the kernel moved)
//                    requested (the repo id pyproject.toml names), version,
//                    variants[] (names, in lock order)
//  lock-written      tool, path, kernels (count)
//  kernel-downloaded tool, repo_id, sha, variants[{variant, dir}] (each
//                    verified against kernels.lock)
//  warning           tool, message, variant?
//  error             tool, message, variant?, repo_id?
//  finished          tool, success, variants? (count handled), kernels?
//                    (kb-lock: count handled), failed?
//
// Exit codes: a tool in a pipeline exits non-zero when it failed or when it
// forwarded a failed "finished" from upstream, so `a | b | c` fails in a shell
// without pipefail too. Its own "finished" still reports only its own work.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <functional>
#include <istream>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace kb::events {

using Json = nlohmann::json;

inline constexpr std::string_view kProject = "project";
inline constexpr std::string_view kVariantPlanned = "variant-planned";
inline constexpr std::string_view kVariantSkipped = "variant-skipped";
inline constexpr std::string_view kVariantBuilt = "variant-built";
inline constexpr std::string_view kAbiChecked = "abi-checked";
inline constexpr std::string_view kVariantPackaged = "variant-packaged";
inline constexpr std::string_view kKernelLocked = "kernel-locked";
inline constexpr std::string_view kLockWritten = "lock-written";
inline constexpr std::string_view kKernelDownloaded = "kernel-downloaded";
inline constexpr std::string_view kWarning = "warning";
inline constexpr std::string_view kError = "error";
inline constexpr std::string_view kFinished = "finished";

// The "event" field of `e`, or "" when absent/not a string.
std::string event_name(const Json& e);

// Reads one event per line. Blank lines are skipped. A line that is not a
// JSON object with a string "event" field throws kb::Error naming the line.
class Reader {
 public:
  explicit Reader(std::istream& in, std::string source = "<stdin>") : in_(in), source_(std::move(source)) {}
  std::optional<Json> next();

 private:
  std::istream& in_;
  std::string source_;
  size_t line_ = 0;
};

// Writes events as single lines, flushed each time. Thread-safe, so worker
// threads may emit while the main thread forwards.
class Writer {
 public:
  explicit Writer(FILE* out = stdout) : out_(out) {}
  void emit(const Json& event);
  // Convenience constructors stamped with this writer's tool name.
  void set_tool(std::string tool) { tool_ = std::move(tool); }
  const std::string& tool() const { return tool_; }
  void error(const std::string& message, const std::optional<std::string>& variant = std::nullopt);
  void warning(const std::string& message, const std::optional<std::string>& variant = std::nullopt);
  void finished(bool success, Json extra = Json::object());
  // Starts an event object {"event": name, "tool": tool}.
  Json make(std::string_view name) const;

 private:
  FILE* out_;
  std::mutex mutex_;
  std::string tool_;
};

// True for a "finished" event with "success": false (an upstream tool failed).
bool reports_failure(const Json& e);

// Reads events from `in` until end of input, calling `handle` for each. By
// default an event for which `handle` returns false is forwarded unchanged
// through `out`, after `handle` ran (so a tool can emit its own events first,
// as kb-checkabi puts abi-checked before the variant-built it checked). With
// Forward::BeforeHandling every event is forwarded as it arrives and then
// handed to `handle`, whose return value is ignored (kb-metadata puts
// variant-packaged after the variant-built). A malformed line, or an event
// whose fields `handle` finds invalid (an EventError, see fields.h), becomes
// an "error" event and ends the stream.
struct PumpResult {
  bool malformed = false;        // a line was not an event; reading stopped there
  bool upstream_failed = false;  // a forwarded event reports_failure()
};
enum class Forward { UnlessConsumed, BeforeHandling };
PumpResult pump(std::istream& in, Writer& out, const std::function<bool(const Json&)>& handle,
                Forward forward = Forward::UnlessConsumed);

// True when standard input is a pipe or file carrying an event stream rather
// than a terminal (tools then run in stream mode).
bool stdin_is_stream();

}  // namespace kb::events

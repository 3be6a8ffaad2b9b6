// kb: the front command. `kb NAME ...` runs the tool kb-NAME (as git does);
// `kb build` composes kb-genproject | kb-compile | kb-checkabi | kb-symbols |
// kb-metadata
// and renders the card; `kb build-and-upload` is `kb build` then kb-upload.
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "libkb/card/card.h"
#include "libkb/events/events.h"
#include "libkb/pipeline/summary.h"
#include "libkb/util/error.h"
#include "libkb/util/process.h"
#include "tools/support/tool_main.h"

namespace {

// Commands that are a mode of one tool.
const std::map<std::string, std::pair<std::string, std::vector<std::string>>> kAliases = {
    {"check-config", {"kb-genproject", {"--check-config"}}},
    {"list-variants", {"kb-genproject", {"--list-variants"}}},
    {"create-pyproject", {"kb-genproject", {"--create-pyproject"}}},
    {"clean-pyproject", {"kb-genproject", {"--clean-pyproject"}}},
    {"scratch-dir", {"kb-genproject", {"--print-scratch-dir"}}},
    {"check-abi", {"kb-checkabi", {}}},
    {"check-builds", {"kb-metadata", {"--check-builds"}}},
    {"hash", {"kb-metadata", {}}},
    {"download", {"kb-lock", {"download"}}},
    {"sign", {"kb-sign", {"sign"}}},
    {"verify", {"kb-sign", {"verify"}}},
    {"trust-root", {"kb-sign", {"trust-root"}}},
};

const char* kUsage = R"(kb — build, check and package compute kernels for PyTorch

Usage: kb <command> [options]

Building
  build [DIR]            genproject | compile | checkabi | symbols | metadata, with a
                         summary; renders CARD.md to build/CARD.md
  init [PATH]            scaffold a new kernel project (kb-init)
  check-config [DIR]     validate build.toml
  update-build [DIR]     upgrade build.toml (editions 3-5) to edition 6 (kb-update-build)
  list-variants [DIR]    variants this machine can build
  create-pyproject       write the generated CMake/Python project into the kernel
                         directory (kb build keeps it in the scratch directory)
  clean-pyproject        remove the generated project files from the kernel directory
  scratch-dir [DIR]      print the kernel's scratch directory: the generated project
                         and CMake build trees of kb build, outside the kernel tree
                         (${KB_SCRATCH_DIR:-${XDG_CACHE_HOME:-~/.cache}/kb/scratch}/<name>-<hash>)
Checking
  check-abi [DIR]        manylinux, Python, Torch stable and tvm-ffi ABI compliance
                         of built variants
  check-builds [DIR]     validate every build/<variant>/metadata.json
  hash [DIR]             finalize metadata.json (digest, provenance) of built variants
  verify PATH|REPO       check each variant's signature (metadata.json.sigstore) and
                         digest offline, as `kernels verify-signature` (kb-sign)
  trust-root show|update the sigstore trust root verification uses (kb-sign)
Publishing
  sign --key KEY PATH    sign variants' metadata.json with a key (kb-sign)
  card [DIR] [OUTPUT]    render the card template CARD.md (kb-card)
  upload [DIR]           publish build/<variant>/ to branch v<version> of the hub in
                         KB_HUB, and the card as README.md on main (kb-upload)
  build-and-upload [DIR] kb build --strict, then kb upload; takes the options of both
                         (--repo-id, --branch, --private, --create-pr, --output-json,
                         --hub, --allow-nonportable (also builds without --strict),
                         --sign KEY, -q)
Loading
  variants PATH          which built variant of a local kernel would load, and why
                         each other one would not (kb-variants)
  lock DIR               pin the kernels DIR/pyproject.toml depends on in
                         DIR/kernels.lock (kb-lock)
  download DIR           fetch the kernels of DIR/kernels.lock into the cache, each
                         verified against the lock (--all-variants: every variant)
  cache ls               the cached kernel versions, their variants and whether their
                         files still match the hub's hashes (kb-cache)

Any other NAME runs kb-NAME. `kb <command> --help` shows a command's options.

kb build options
  -j, --jobs N           variants built in parallel (default 1)
  --target POLICY        link arch variants for this manylinux policy, so they load on
                         every Linux it covers (default on Linux: manylinux_2_28; a
                         private libstdc++ and old glibc symbol versions, no sysroot
                         needed), or `native` for this machine only (flagged as not
                         portable; kb upload refuses it without --allow-nonportable)
  --strict               fail on ABI violations (non-portable variants)
  --python PATH          build only for this interpreter (repeatable;
                         default: KB_PYTHON, else every one with torch found;
                         [tvm-ffi] kernels: with tvm_ffi, e.g. the tvm-ffi venv)
  --variant NAME         build only this variant (repeatable)
  --backend NAME         build only this backend (repeatable)
  --unique-id ID         op namespace suffix instead of the git tree id
  --json                 print the event stream on stdout
)";

int exec_tool(const std::string& tool, const std::vector<std::string>& prefix, int argc, char** argv, int first) {
  std::string path;
  try {
    path = kb::tool_path(tool).string();
  } catch (const kb::Error& e) {
    std::cerr << "kb: " << e.what() << "\n";
    return 127;
  }
  std::vector<std::string> args = {path};
  args.insert(args.end(), prefix.begin(), prefix.end());
  for (int i = first; i < argc; ++i) args.push_back(argv[i]);
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  ::execv(path.c_str(), cargs.data());
  std::cerr << "kb: cannot run " << path << ": " << std::strerror(errno) << "\n";
  return 127;
}

// After a successful build: build/CARD.md from the kernel's CARD.md. A kernel
// without a hub repo-id still builds; its card is skipped with a warning.
bool render_card(const std::string& kernel_dir) {
  try {
    kb::card::BuildCardResult card = kb::card::write_build_card(kernel_dir);
    if (card.written) std::cerr << "  card: " << card.written->string() << "\n";
    if (card.skipped) std::cerr << "  warning: CARD.md not rendered: " << *card.skipped << "\n";
    return true;
  } catch (const std::exception& e) {
    std::cerr << "  error: CARD.md: " << e.what() << "\n";
    return false;
  }
}

int build(const std::vector<std::string>& args) {
  std::vector<std::string> genproject = {kb::tool_path("kb-genproject").string()};
  std::vector<std::string> compile = {kb::tool_path("kb-compile").string()};
  std::vector<std::string> checkabi = {kb::tool_path("kb-checkabi").string()};
  std::vector<std::string> symbols = {kb::tool_path("kb-symbols").string()};
  std::vector<std::string> metadata = {kb::tool_path("kb-metadata").string()};
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw kb::tools::UsageError("option " + a + " needs a value");
      return args[++i];
    };
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--json") {
      json = true;
    } else if (a == "-j" || a == "--jobs") {
      compile.insert(compile.end(), {"-j", value()});
    } else if (a.rfind("-j", 0) == 0 && a.size() > 2) {
      compile.insert(compile.end(), {"-j", a.substr(2)});
    } else if (a == "--strict") {
      genproject.push_back("--strict");
    } else if (a == "--python" || a == "--variant" || a == "--backend" || a == "--unique-id" || a == "--target") {
      genproject.insert(genproject.end(), {a, value()});
    } else if (!a.empty() && a[0] == '-') {
      throw kb::tools::UsageError("unknown option for kb build: " + a + " (see kb build --help)");
    } else {
      genproject.push_back(a);
    }
  }
  kb::pipeline::BuildSummary summary;
  std::string kernel_dir;
  std::vector<int> codes = kb::run_pipeline({genproject, compile, checkabi, symbols, metadata}, [&](const std::string& line) {
    if (json) std::cout << line << std::endl;
    auto e = kb::events::Json::parse(line, nullptr, false);
    if (e.is_discarded()) return;
    summary.add(e);
    if (kb::events::event_name(e) == kb::events::kProject && e.contains("kernel_dir") && e["kernel_dir"].is_string())
      kernel_dir = e["kernel_dir"].get<std::string>();
  });
  std::cerr << summary.render();
  bool ok = summary.success();
  for (int c : codes) ok = ok && c == 0;
  if (ok && summary.built_count() > 0 && !kernel_dir.empty()) ok = render_card(kernel_dir);
  return ok ? 0 : 1;
}

// kb build-and-upload: the kernel directory and each option go to the build,
// the upload or both; the upload runs only after a successful build.
int build_and_upload(int argc, char** argv) {
  static const std::set<std::string> upload_values = {"--repo-id", "--branch", "--output-json", "--hub", "--repo-type",
                                                      "--sign"};
  static const std::set<std::string> upload_flags = {"--private", "--create-pr", "--allow-nonportable", "-q",
                                                     "--quiet"};
  static const std::set<std::string> build_values = {"-j",        "--jobs",      "--python", "--variant",
                                                     "--backend", "--unique-id", "--target"};
  std::vector<std::string> build_args, upload_args;
  std::vector<std::string> dirs;
  bool allow_nonportable = false;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    std::string key = a.substr(0, a.find('='));
    auto take_value = [&](std::vector<std::string>& to) {
      to.push_back(a);
      if (key != a) return;  // --opt=value
      if (i + 1 >= argc) throw kb::tools::UsageError("option " + a + " needs a value");
      to.push_back(argv[++i]);
    };
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (upload_values.count(key)) {
      take_value(upload_args);
    } else if (upload_flags.count(a)) {
      upload_args.push_back(a);
      allow_nonportable = allow_nonportable || a == "--allow-nonportable";
    } else if (build_values.count(key)) {
      take_value(build_args);
    } else if (!a.empty() && a[0] == '-') {
      build_args.push_back(a);  // kb build reports the ones it does not know
    } else {
      dirs.push_back(a);
    }
  }
  if (dirs.size() > 1)
    throw kb::tools::UsageError("kb build-and-upload takes one kernel directory, got " + std::to_string(dirs.size()));
  // Publishing refuses non-portable variants, so the build fails on them first.
  if (!allow_nonportable) build_args.push_back("--strict");
  build_args.insert(build_args.end(), dirs.begin(), dirs.end());
  upload_args.insert(upload_args.end(), dirs.begin(), dirs.end());
  if (int code = build(build_args); code != 0) return code;
  std::vector<std::string> storage = {"kb"};
  storage.insert(storage.end(), upload_args.begin(), upload_args.end());
  std::vector<char*> upload_argv;
  for (auto& s : storage) upload_argv.push_back(s.data());
  return exec_tool("kb-upload", {}, static_cast<int>(upload_argv.size()), upload_argv.data(), 1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "help")) {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  std::string command = argv[1];
  if (command == "--version" || command == "-V") {
    std::cout << "kb " << KB_VERSION << "\n";
    return 0;
  }
  kb::tools::ToolRun run("kb");
  return kb::tools::tool_main(run, [&] {
    if (command == "build") return build(std::vector<std::string>(argv + 2, argv + argc));
    if (command == "build-and-upload") return build_and_upload(argc, argv);
    if (auto it = kAliases.find(command); it != kAliases.end())
      return exec_tool(it->second.first, it->second.second, argc, argv, 2);
    if (command[0] == '-') {
      std::cerr << "kb: unknown option " << command << "\n" << kUsage;
      return 2;
    }
    return exec_tool("kb-" + command, {}, argc, argv, 2);
  });
}

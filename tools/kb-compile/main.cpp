// kb-compile: builds every planned variant into build/<variant>/.
//   kb-genproject . | kb-compile -j2 | kb-checkabi | kb-metadata
//   kb-compile [KERNEL_DIR]      (plans with kb-genproject itself)
#include <CLI/CLI.hpp>

#include <atomic>
#include <iostream>
#include <sstream>
#include <thread>

#include "libkb/events/events.h"
#include "libkb/events/fields.h"
#include "libkb/pipeline/compile.h"
#include "libkb/util/error.h"
#include "libkb/util/process.h"
#include "libkb/util/work_queue.h"
#include "tools/support/tool_main.h"

namespace ev = kb::events;

namespace {

int compile(ev::Writer& out, const std::string& kernel_dir, unsigned jobs) {
  std::istringstream planned_stream;
  std::istream* in = &std::cin;
  if (!kernel_dir.empty() || !ev::stdin_is_stream()) {
    // Standalone: let kb-genproject plan, then build what it planned.
    auto plan =
        kb::run_process({.argv = {kb::tool_path("kb-genproject").string(), kernel_dir.empty() ? "." : kernel_dir}});
    std::cerr << plan.err;
    planned_stream.str(plan.out);
    in = &planned_stream;
  }

  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  int inner_jobs = static_cast<int>(std::max(1u, (cores + jobs - 1) / jobs));
  std::atomic<int> built{0}, failed{0};
  ev::PumpResult stream;
  {
    kb::WorkQueue queue(jobs);
    stream = ev::pump(*in, out, [&](const ev::Json& e) {
      if (ev::event_name(e) != ev::kVariantPlanned) return false;
      queue.submit([&, e] {
        std::string variant = ev::variant_label(e);
        try {
          kb::pipeline::CompileRequest request = kb::pipeline::request_from_event(e);
          request.jobs = inner_jobs;
          std::cerr << "kb-compile: " << variant << ": started\n";
          auto result = kb::pipeline::compile_variant(request, [&](const std::string& step) {
            std::cerr << "kb-compile: " << variant << ": " << step << "\n";
          });
          ev::Json done = e;
          done["event"] = std::string(ev::kVariantBuilt);
          done["tool"] = out.tool();
          done["dir"] = result.dir.string();
          done["artifacts"] = result.artifacts;
          done["seconds"] = result.seconds;
          done["up_to_date"] = result.up_to_date;
          out.emit(done);
          std::cerr << "kb-compile: " << variant << ": " << (result.up_to_date ? "up to date" : "built") << " ("
                    << static_cast<int>(result.seconds * 10) / 10.0 << " s)\n";
          ++built;
        } catch (const std::exception& err) {
          std::cerr << "kb-compile: " << variant << ": FAILED\n" << err.what() << "\n";
          out.error(err.what(), variant);
          ++failed;
        }
      });
      return true;
    });
    queue.wait_idle();
  }
  bool success = failed == 0 && !stream.malformed;
  out.finished(success, {{"variants", built.load()}, {"failed", failed.load()}});
  return success && !stream.upstream_failed ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Build planned kernel variants (reads and writes the kb event stream)", "kb-compile"};
  std::string kernel_dir;
  unsigned jobs = 1;
  app.add_option("KERNEL_DIR", kernel_dir, "Plan and build this kernel directly instead of reading events from stdin");
  app.add_option("-j,--jobs", jobs, "Variants built in parallel")->check(CLI::Range(1u, 64u));
  kb::tools::ToolRun run("kb-compile");
  return kb::tools::tool_main(run, app, argc, argv, [&] { return compile(run.begin_stream(), kernel_dir, jobs); });
}

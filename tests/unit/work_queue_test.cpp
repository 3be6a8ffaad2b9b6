// libkb/util/work_queue: the worker pool kb-compile builds variants with and
// the fetcher downloads with. Run under ThreadSanitizer by `make test-tsan`.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "libkb/util/work_queue.h"

using namespace kb;

TEST(WorkQueue, RunsEveryJobOnAtMostItsWorkersAndWaitIdleSeesThemAllDone) {
  std::atomic<int> running{0}, peak{0}, done{0};
  std::mutex mutex;
  std::set<std::thread::id> threads;
  {
    WorkQueue queue(4);
    for (int i = 0; i < 200; ++i)
      queue.submit([&] {
        int now = ++running;
        int seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        {
          std::lock_guard<std::mutex> lock(mutex);
          threads.insert(std::this_thread::get_id());
        }
        std::this_thread::yield();
        --running;
        ++done;
      });
    queue.wait_idle();
    EXPECT_EQ(done.load(), 200);
    EXPECT_LE(peak.load(), 4);
    EXPECT_LE(threads.size(), 4u);
    EXPECT_FALSE(threads.count(std::this_thread::get_id()));
    queue.submit([&] { ++done; });  // usable after wait_idle
  }  // the destructor waits for the last job
  EXPECT_EQ(done.load(), 201);
}

TEST(WorkQueue, JobsSubmittedFromJobsRunBeforeWaitIdleReturns) {
  std::atomic<int> done{0};
  WorkQueue queue(2);
  for (int i = 0; i < 10; ++i)
    queue.submit([&] {
      queue.submit([&] { ++done; });
      ++done;
    });
  queue.wait_idle();
  EXPECT_EQ(done.load(), 20);
}

#pragma once
// A fixed number of worker threads running submitted jobs in order of
// submission; used to build several variants at once.
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kb {

class WorkQueue {
 public:
  explicit WorkQueue(unsigned workers);
  ~WorkQueue();  // waits for all submitted jobs
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void submit(std::function<void()> job);
  void wait_idle();

 private:
  void run();
  std::mutex mutex_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<std::function<void()>> jobs_;
  unsigned busy_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace kb

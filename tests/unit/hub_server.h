#pragma once
// Runs tests/fixtures/hub-server (the loopback Hugging Face Hub) for a test:
// started on a free port over a fresh root, stopped with the test. Its
// /_fixture/ control API sets faults, organisations and configuration and
// returns the request log.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "libkb/http/client.h"
#include "libkb/util/error.h"

namespace kb::testing {

class HubServer {
 public:
  // `extra` are hub-server options (--token, --trusted-org ORG, --org ORG, ...).
  HubServer(const std::filesystem::path& root, const std::vector<std::string>& extra = {}) {
    std::string python = std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
    std::vector<std::string> argv = {python, std::string(KB_SOURCE_DIR) + "/tests/fixtures/hub-server",
                                     "--root", root.string(), "--port", "0", "--max-lifetime", "600"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    int out[2];
    if (pipe(out) != 0) throw Error("pipe failed");
    pid_ = fork();
    if (pid_ == 0) {
      // The server ends with the test process, even when that crashes:
      // an orphan would hold the test runner's output pipe open.
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      dup2(out[1], 1);
      close(out[0]);
      close(out[1]);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
    close(out[1]);
    // The first line is the base URL; bounded wait.
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{out[0], POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      char c[256];
      ssize_t n = read(out[0], c, sizeof c);
      if (n <= 0) break;
      line.append(c, static_cast<size_t>(n));
    }
    stdout_fd_ = out[0];
    if (line.find('\n') == std::string::npos) {
      stop();
      throw Error("hub-server did not start (output: " + line + ")");
    }
    base_url_ = line.substr(0, line.find('\n'));
    while (!base_url_.empty() && (base_url_.back() == '\r' || base_url_.back() == '/')) base_url_.pop_back();
  }
  ~HubServer() { stop(); }
  HubServer(const HubServer&) = delete;
  HubServer& operator=(const HubServer&) = delete;

  const std::string& url() const { return base_url_; }

  // A control request; returns the parsed JSON answer.
  nlohmann::json control(const std::string& method, const std::string& path, const nlohmann::json& body = nullptr) const {
    http::ClientOptions options;
    options.retry.max_attempts = 1;
    http::Client client(options);
    http::Request req{method, base_url_ + "/_fixture/" + path, {{"Content-Type", "application/json"}},
                      body.is_null() ? "" : body.dump(), true};
    http::Response r = client.send(req);
    if (r.status != 200) throw Error("fixture control " + path + ": HTTP " + std::to_string(r.status) + " " + r.body);
    return nlohmann::json::parse(r.body);
  }

  void fault(const nlohmann::json& rule) const { control("POST", "faults", rule); }
  void clear_faults() const { control("DELETE", "faults"); }
  void clear_log() const { control("DELETE", "log"); }
  nlohmann::json log() const { return control("GET", "log")["requests"]; }
  void set_org(const std::string& name, bool trusted) const {
    control("POST", "orgs", {{"name", name}, {"trustedKernelPublisher", trusted}});
  }
  void config(const nlohmann::json& values) const { control("POST", "config", values); }

 private:
  void stop() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      for (int i = 0; i < 100 && waitpid(pid_, &status, WNOHANG) == 0; ++i) usleep(20000);
      if (waitpid(pid_, &status, WNOHANG) == 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
      }
      pid_ = -1;
    }
    if (stdout_fd_ >= 0) close(stdout_fd_);
    stdout_fd_ = -1;
  }

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string base_url_;
};

}  // namespace kb::testing

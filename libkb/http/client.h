#pragma once
// A small HTTP client over libcurl for the hub API: buffered requests and
// streamed downloads, both with bounded retries. Retried: connection
// failures, timeouts, dropped connections, 429 and 5xx. Each retry waits
// with exponential backoff (or the server's Retry-After), and the whole
// request gives up after max_attempts or the total time budget, whichever
// comes first. A download that breaks mid-body resumes with a Range request
// from the byte it reached, so a sink never sees a byte twice.
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "libkb/util/error.h"

namespace kb::http {

struct RetryPolicy {
  int max_attempts = 5;
  std::chrono::milliseconds first_delay{250};
  std::chrono::milliseconds max_delay{8000};
  std::chrono::milliseconds total_budget{120000};
};

struct ClientOptions {
  std::string user_agent;
  std::chrono::milliseconds connect_timeout{10000};
  // A transfer stalled below 1 byte/s for this long is a dropped connection.
  std::chrono::milliseconds stall_timeout{30000};
  RetryPolicy retry;
};

struct Request {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // "Name", "value"
  std::string body;
  bool follow_redirects = true;
  // Sent instead of `body`, streamed from disk (large uploads never sit in
  // memory); read again from the start on each retry.
  std::optional<std::filesystem::path> body_file;
};

struct Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names, final response only
  std::string body;
  std::string url;  // after redirects

  std::optional<std::string> header(const std::string& lower_name) const;
};

// A response the caller did not expect (status >= 400 after retries), or a
// transport failure (status 0). The message says what failed and why.
class HttpError : public Error {
 public:
  HttpError(const std::string& message, long status, std::string error_code)
      : Error(message), status_(status), error_code_(std::move(error_code)) {}
  long status() const { return status_; }
  // The hub's X-Error-Code ("RepoNotFound", "RevisionNotFound", "EntryNotFound"), if any.
  const std::string& error_code() const { return error_code_; }

 private:
  long status_;
  std::string error_code_;
};

using Sink = std::function<void(const char* data, size_t size)>;

class Client {
 public:
  explicit Client(ClientOptions options = {});

  // Sends the request (retrying as described above) and returns the final
  // response whatever its status; only transport failures that outlast the
  // retries throw (HttpError with status 0).
  Response send(const Request& request) const;

  // GET `request.url`, streaming the body of a 2xx response to `sink`.
  // Returns the final response (its body empty); a non-2xx final status is
  // returned too, without calling the sink, so the caller can word the error.
  Response download(const Request& request, const Sink& sink) const;

  const ClientOptions& options() const { return options_; }

 private:
  ClientOptions options_;
};

// "a%2Fb" style escaping of one path segment or query value.
std::string url_escape(const std::string& text);
// Escapes each '/'-separated segment of a path, keeping the slashes.
std::string url_escape_path(const std::string& path);

// The URL rel="next" of an RFC 8288 Link header, if any.
std::optional<std::string> next_link(const std::string& link_header);

// Seconds from a Retry-After header value (delta-seconds form only).
std::optional<std::chrono::milliseconds> parse_retry_after(const std::string& value);

}  // namespace kb::http

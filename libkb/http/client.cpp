#include "libkb/http/client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "libkb/util/strings.h"

namespace kb::http {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kMaxErrorBody = 64 * 1024;  // enough for any hub error message

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// One easy handle per thread: curl_easy_reset keeps its connection and DNS
// caches, so consecutive requests to the hub reuse one connection.
CURL* thread_handle() {
  struct Holder {
    CURL* handle = nullptr;
    ~Holder() {
      if (handle) curl_easy_cleanup(handle);
    }
  };
  thread_local Holder holder;
  global_init();
  if (!holder.handle) {
    holder.handle = curl_easy_init();
    if (!holder.handle) throw HttpError("cannot initialise libcurl", 0, "");
  } else {
    curl_easy_reset(holder.handle);
  }
  return holder.handle;
}

struct HeaderList {
  curl_slist* list = nullptr;
  HeaderList() = default;
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;
  ~HeaderList() { curl_slist_free_all(list); }
  void add(const std::string& line) {
    curl_slist* next = curl_slist_append(list, line.c_str());
    if (!next) throw HttpError("out of memory building request headers", 0, "");
    list = next;
  }
};

// What one attempt saw.
struct Attempt {
  CURLcode code = CURLE_OK;
  std::string curl_message;
  long status = 0;
  std::map<std::string, std::string> headers;
  std::string body;          // buffered body, or the error body of a download
  uint64_t delivered = 0;    // bytes given to the sink in this attempt
  uint64_t resume_from = 0;  // a resumed download asked for bytes from here
  uint64_t skip = 0;         // bytes to drop before the sink (a resume the server ignored)
  bool streaming = false;    // a download: 2xx bodies go to the sink
  bool sink_checked = false; // the status of the body was looked at
  bool to_sink = false;
  const Sink* sink = nullptr;
  std::exception_ptr sink_error;
  CURL* handle = nullptr;
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* a = static_cast<Attempt*>(user);
  std::string line(data, size * count);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) {
    a->headers.clear();  // a new response in a redirect chain
  } else if (auto colon = line.find(':'); colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    a->headers[name] = std::string(trim(line.substr(colon + 1)));
  }
  return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* a = static_cast<Attempt*>(user);
  size_t n = size * count;
  if (a->streaming && !a->sink_checked) {
    long status = 0;
    curl_easy_getinfo(a->handle, CURLINFO_RESPONSE_CODE, &status);
    a->to_sink = status >= 200 && status < 300;
    a->sink_checked = true;
    // A resume answered with 200 resends the body from byte 0; a 206 must
    // start exactly where the previous attempt stopped.
    if (a->to_sink && a->resume_from > 0) {
      if (status == 200) {
        a->skip = a->resume_from;
      } else {
        auto it = a->headers.find("content-range");
        std::string expected = "bytes " + std::to_string(a->resume_from) + "-";
        if (it == a->headers.end() || it->second.rfind(expected, 0) != 0) {
          a->sink_error = std::make_exception_ptr(
              HttpError("resumed download answered with an unexpected range (" +
                            (it == a->headers.end() ? std::string("none") : it->second) + ")",
                        0, ""));
          return 0;
        }
      }
    }
  }
  if (!a->to_sink) {
    if (a->body.size() < (a->streaming ? kMaxErrorBody : SIZE_MAX)) a->body.append(data, n);
    return n;
  }
  const char* p = data;
  size_t left = n;
  if (a->skip > 0) {
    size_t drop = static_cast<size_t>(std::min<uint64_t>(a->skip, left));
    a->skip -= drop;
    p += drop;
    left -= drop;
  }
  if (left == 0) return n;
  try {
    (*a->sink)(p, left);
  } catch (...) {
    a->sink_error = std::current_exception();
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  a->delivered += left;
  return n;
}

size_t on_upload(char* buffer, size_t size, size_t count, void* user) {
  auto* in = static_cast<std::ifstream*>(user);
  in->read(buffer, static_cast<std::streamsize>(size * count));
  if (in->bad()) return CURL_READFUNC_ABORT;
  return static_cast<size_t>(in->gcount());
}

bool retryable_transport(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

bool retryable_status(long status) { return status == 429 || (status >= 500 && status <= 599); }

void perform(const ClientOptions& options, const Request& request, Attempt& a,
             const std::optional<uint64_t>& range_start) {
  CURL* h = thread_handle();
  a.handle = h;
  std::ifstream upload;  // body_file, opened afresh for each attempt
  char error_buffer[CURL_ERROR_SIZE] = {0};
  HeaderList headers;
  for (const auto& [name, value] : request.headers) headers.add(name + ": " + value);
  // The loopback fixture and some proxies mishandle 100-continue; bodies are small.
  headers.add("Expect:");
  if (range_start) headers.add("Range: bytes=" + std::to_string(*range_start) + "-");

  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.list);
  if (!options.user_agent.empty()) curl_easy_setopt(h, CURLOPT_USERAGENT, options.user_agent.c_str());
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
  // Redirects may only go to http(s): never file:// or other schemes.
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                   std::max(1L, static_cast<long>(options.stall_timeout.count() / 1000)));
  // API answers may come compressed; downloads stay identity-encoded so that
  // a resumed Range counts the same bytes the sink received.
  if (!a.streaming) curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &a);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
  if (request.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET" && request.body_file) {
    upload.open(*request.body_file, std::ios::binary);
    std::error_code ec;
    auto size = std::filesystem::file_size(*request.body_file, ec);
    if (!upload || ec) throw HttpError("cannot read " + request.body_file->string() + " to upload it", 0, "");
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
    curl_easy_setopt(h, CURLOPT_READDATA, &upload);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
  } else if (request.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  a.code = curl_easy_perform(h);
  a.curl_message = error_buffer[0] ? error_buffer : curl_easy_strerror(a.code);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a.status);
}

milliseconds backoff(const RetryPolicy& policy, int attempt, const std::optional<milliseconds>& retry_after) {
  if (retry_after) return std::min(*retry_after, policy.max_delay);
  thread_local std::mt19937 rng(std::random_device{}());
  auto base = policy.first_delay * (1LL << std::min(attempt, 16));
  base = std::min<milliseconds>(base, policy.max_delay);
  std::uniform_int_distribution<long long> jitter(base.count() / 2, base.count());
  return milliseconds(jitter(rng));
}

// Runs attempts until one is final. For downloads, bytes already delivered
// are requested again with a Range header and never re-sent to the sink.
Response run(const ClientOptions& options, const Request& request, const Sink* sink) {
  const RetryPolicy& policy = options.retry;
  auto started = Clock::now();
  uint64_t delivered = 0;
  for (int attempt = 1;; ++attempt) {
    Attempt a;
    a.streaming = sink != nullptr;
    a.sink = sink;
    std::optional<uint64_t> range;
    if (sink && delivered > 0) range = delivered;
    a.resume_from = delivered;
    perform(options, request, a, range);
    if (a.sink_error) std::rethrow_exception(a.sink_error);
    delivered += a.delivered;

    bool transport_failure = a.code != CURLE_OK;
    bool retry = transport_failure ? retryable_transport(a.code) : retryable_status(a.status);
    auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
    std::optional<milliseconds> retry_after;
    if (auto it = a.headers.find("retry-after"); it != a.headers.end()) retry_after = parse_retry_after(it->second);
    milliseconds wait = backoff(policy, attempt - 1, retry_after);
    bool out_of_budget = attempt >= policy.max_attempts || elapsed + wait > policy.total_budget;

    if (!retry || out_of_budget) {
      if (transport_failure) {
        std::string what = request.method + " " + request.url + ": " + a.curl_message;
        if (attempt > 1) what += " (after " + std::to_string(attempt) + " attempts)";
        throw HttpError(what, 0, "");
      }
      Response r;
      r.status = a.status;
      r.headers = std::move(a.headers);
      r.body = std::move(a.body);
      char* url = nullptr;
      if (curl_easy_getinfo(a.handle, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url) r.url = url;
      return r;
    }
    std::this_thread::sleep_for(wait);
  }
}

}  // namespace

std::optional<std::string> Response::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

Client::Client(ClientOptions options) : options_(std::move(options)) { global_init(); }

Response Client::send(const Request& request) const { return run(options_, request, nullptr); }

Response Client::download(const Request& request, const Sink& sink) const { return run(options_, request, &sink); }

std::string url_escape(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string url_escape_path(const std::string& path) {
  std::vector<std::string> parts;
  for (const std::string& part : split(path, '/')) parts.push_back(url_escape(part));
  return join(parts, "/");
}

std::optional<std::string> next_link(const std::string& link_header) {
  // <url>; rel="next", <url2>; rel="prev"
  size_t pos = 0;
  while (pos < link_header.size()) {
    size_t open = link_header.find('<', pos);
    if (open == std::string::npos) break;
    size_t close = link_header.find('>', open);
    if (close == std::string::npos) break;
    size_t end = link_header.find(',', close);
    std::string params = link_header.substr(close + 1, end == std::string::npos ? std::string::npos : end - close - 1);
    std::string compact;
    for (char c : params)
      if (!std::isspace(static_cast<unsigned char>(c))) compact += static_cast<char>(std::tolower(c));
    if (compact.find("rel=\"next\"") != std::string::npos || compact.find("rel=next") != std::string::npos)
      return link_header.substr(open + 1, close - open - 1);
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return std::nullopt;
}

std::optional<milliseconds> parse_retry_after(const std::string& value) {
  std::string v = trim(value);
  if (v.empty() || v.size() > 6) return std::nullopt;
  for (char c : v)
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  return milliseconds(std::stoll(std::string(v)) * 1000);
}

}  // namespace kb::http

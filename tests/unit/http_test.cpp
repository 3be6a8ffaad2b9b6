// The HTTP helpers that need no server: escaping, Link headers, Retry-After.
// (Requests, retries and resumed downloads are tested against the hub
// fixture in hf_hub_test.cpp.)
#include <gtest/gtest.h>

#include "libkb/http/client.h"

using namespace kb;

TEST(HttpEscape, SegmentsAndPaths) {
  EXPECT_EQ(http::url_escape("refs/pr/1"), "refs%2Fpr%2F1");
  EXPECT_EQ(http::url_escape("a b+c~d_e.f-g"), "a%20b%2Bc~d_e.f-g");
  EXPECT_EQ(http::url_escape("\xc3\xa9"), "%C3%A9");
  EXPECT_EQ(http::url_escape_path("build/torch-cpu/a b.py"), "build/torch-cpu/a%20b.py");
}

TEST(HttpLink, NextPageFromRfc8288Headers) {
  EXPECT_EQ(http::next_link("<https://h/api/x?cursor=abc>; rel=\"next\""), "https://h/api/x?cursor=abc");
  EXPECT_EQ(http::next_link("<https://h/p1>; rel=\"prev\", <https://h/p3>; rel=\"next\""), "https://h/p3");
  EXPECT_EQ(http::next_link("<https://h/p3>;rel=next"), "https://h/p3");
  EXPECT_FALSE(http::next_link("<https://h/p1>; rel=\"prev\""));
  EXPECT_FALSE(http::next_link(""));
  EXPECT_FALSE(http::next_link("garbage"));
}

TEST(HttpRetryAfter, SecondsOnly) {
  EXPECT_EQ(http::parse_retry_after("3"), std::chrono::milliseconds(3000));
  EXPECT_EQ(http::parse_retry_after(" 0 "), std::chrono::milliseconds(0));
  EXPECT_FALSE(http::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"));
  EXPECT_FALSE(http::parse_retry_after("-1"));
  EXPECT_FALSE(http::parse_retry_after("99999999"));
}

TEST(HttpClient, ATransportFailureIsRetriedThenNamed) {
  http::ClientOptions options;
  options.retry.max_attempts = 2;
  options.retry.first_delay = std::chrono::milliseconds(1);
  http::Client client(options);
  // Port 9 on loopback: nothing listens, every attempt is refused.
  try {
    client.send({"GET", "http://127.0.0.1:9/x", {}, "", true});
    FAIL() << "a refused connection succeeded";
  } catch (const http::HttpError& e) {
    EXPECT_EQ(e.status(), 0);
    EXPECT_NE(std::string(e.what()).find("GET http://127.0.0.1:9/x"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(after 2 attempts)"), std::string::npos) << e.what();
  }
}

TEST(HttpClient, OnlyHttpSchemesAreAccepted) {
  http::ClientOptions options;
  options.retry.max_attempts = 1;
  http::Client client(options);
  EXPECT_THROW(client.send({"GET", "file:///etc/passwd", {}, "", true}), http::HttpError);
}

// http/outbound.h: URL parsing, the public-address table, and PostOnce() over real sockets on
// loopback: a listener that answers, one that never does, a closed port, a plain listener
// spoken to in TLS, and a TLS listener whose self-signed certificate is made here.
#define BOOST_TEST_MODULE outbound
#include "http/outbound.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

namespace keymeter::http {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Request = bhttp::request<bhttp::string_body>;
using Clock = std::chrono::steady_clock;

// Listens on 127.0.0.1:<any>; `serve` handles each accepted connection on the listener's
// thread. Connections are kept open until the listener goes (a silent `serve` never answers).
class Listener {
 public:
  using Serve = std::function<void(tcp::socket&)>;
  explicit Listener(Serve serve)
      : acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}), serve_(std::move(serve)) {
    Accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~Listener() {
    ioc_.stop();
    thread_.join();
  }
  uint16_t port() const { return port_; }
  int connections() const { return connections_; }

 private:
  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;
      ++connections_;
      serve_(socket);
      open_.push_back(std::move(socket));
      Accept();
    });
  }

  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  const uint16_t port_ = acceptor_.local_endpoint().port();
  Serve serve_;
  std::atomic<int> connections_{0};
  std::vector<tcp::socket> open_;
  std::thread thread_;
};

// Reads one request from `stream` into `*seen` and answers `status` with `body`.
template <class Stream>
void Answer(Stream& stream, std::mutex& mu, Request* seen, int status, std::string body,
            std::string location = "") {
  boost::beast::flat_buffer buffer;
  Request request;
  boost::system::error_code ec;
  bhttp::read(stream, buffer, request, ec);
  if (ec) return boost::beast::get_lowest_layer(stream).close();  // as a server would
  {
    std::lock_guard<std::mutex> lock(mu);
    *seen = request;
  }
  bhttp::response<bhttp::string_body> response(bhttp::status(status), 11);
  if (!location.empty()) response.set(bhttp::field::location, location);
  response.body() = std::move(body);
  response.prepare_payload();
  bhttp::write(stream, response, ec);
}

OutboundUrl Url(std::string_view text) {
  Result<OutboundUrl> url = ParseOutboundUrl(text);
  BOOST_REQUIRE_MESSAGE(url, text);
  return url.value();
}

OutboundOptions Private(std::chrono::milliseconds timeout = 5s) {
  return {.timeout = timeout, .allow_private = true};
}

// A self-signed P-256 certificate for IP 127.0.0.1 (and no DNS name), its key, and the
// certificate in a PEM file for ca_file.
struct Certificate {
  std::string cert_pem, key_pem;
  std::filesystem::path file;

  Certificate() {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("keymeter test"), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
    for (const auto& [nid, value] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1"},
                                     std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
      X509_add_ext(x, ext, -1);
      X509_EXTENSION_free(ext);
    }
    BOOST_REQUIRE(X509_sign(x, key, EVP_sha256()) > 0);
    cert_pem = Pem([x](BIO* b) { return PEM_write_bio_X509(b, x); });
    key_pem = Pem([key](BIO* b) {
      return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
    });
    X509_free(x);
    EVP_PKEY_free(key);
    file = std::filesystem::temp_directory_path() /
           ("outbound_test_ca_" + std::to_string(::getpid()) + ".pem");
    std::ofstream(file) << cert_pem;
  }
  ~Certificate() { std::filesystem::remove(file); }

  template <class Write>
  static std::string Pem(Write write) {
    BIO* bio = BIO_new(BIO_s_mem());
    BOOST_REQUIRE(write(bio) == 1);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    std::string out(data, size_t(size));
    BIO_free(bio);
    return out;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(outbound)

BOOST_AUTO_TEST_CASE(parses_http_and_https_urls) {
  struct Case {
    std::string url;
    bool tls;
    std::string_view host;
    uint16_t port;
    std::string_view target;
  };
  const Case cases[] = {
      {"http://example.com", false, "example.com", 80, "/"},
      {"https://Hooks.Example.COM:8443/in?a=1&b=%20", true, "hooks.example.com", 8443,
       "/in?a=1&b=%20"},
      {"HTTP://10.0.0.1:65535?x", false, "10.0.0.1", 65535, "/?x"},
      {"http://[::1]:8080/p", false, "::1", 8080, "/p"},
      {"https://[2001:DB8::1]/", true, "2001:db8::1", 443, "/"},
      {"http://a.b-c_d.example.:1/users/@me", false, "a.b-c_d.example.", 1, "/users/@me"},
      {"https://x.example/" + std::string(2048 - 18, 'a'), true, "x.example", 443, ""},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.url.substr(0, 60)) {
      const OutboundUrl url = Url(c.url);
      BOOST_TEST(url.tls == c.tls);
      BOOST_TEST(url.host == c.host);
      BOOST_TEST(url.port == c.port);
      if (!c.target.empty()) BOOST_TEST(url.target == c.target);
    }
  }
}

const std::vector<std::string> kBadUrls = {
    "ftp://example.com/",
    "example.com/hook",
    "javascript:alert(1)",
    "http://user:secret@example.com/",
    "http://example.com\\@evil.example/",
    "http://example.com/#secret",
    "http://example.com:0/",
    "http://example.com:70000/",
    "http://example.com:/",
    "http://example.com:8a/",
    "http://example.com:+80/",
    "http:///path",
    "http://:80/",
    "http://exa mple.com/",
    "http://example.com/\r\nX-Injected: 1",
    "http://example.com/\x7f",
    "http://ex\xc3\xa4mple.com/",
    "http://[::1/",
    "http://[::1]x/",
    "http://[]/",
    "http://[fe80::1%25eth0]/",
    "http://[example.com]/",
    "http://::1/",
    "http://ex%61mple.com/",
    "http://" + std::string(254, 'a') + "/",
    "https://x.example/" + std::string(2048 - 17, 'a'),
};

BOOST_DATA_TEST_CASE(refuses_bad_urls_without_echoing_them, boost::unit_test::data::make(kBadUrls),
                     text) {
  const Result<OutboundUrl> url = ParseOutboundUrl(text);
  BOOST_REQUIRE(!url);
  BOOST_TEST(url.error().code() == Code::kInvalidField);
  BOOST_TEST(url.error().message().find(text) == std::string::npos);
  BOOST_TEST(url.error().message().find("secret") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(public_addresses) {
  const std::pair<const char*, bool> cases[] = {
      {"8.8.8.8", true},          {"1.1.1.1", true},           {"100.63.255.255", true},
      {"100.128.0.0", true},      {"172.15.255.255", true},    {"172.32.0.0", true},
      {"192.0.1.1", true},        {"198.17.255.255", true},    {"198.20.0.0", true},
      {"223.255.255.255", true},  {"0.0.0.0", false},          {"0.1.2.3", false},
      {"10.1.2.3", false},        {"100.64.0.1", false},       {"100.127.255.255", false},
      {"127.0.0.1", false},       {"127.255.255.254", false},  {"169.254.169.254", false},
      {"172.16.0.1", false},      {"172.31.255.255", false},   {"192.0.0.8", false},
      {"192.168.1.1", false},     {"198.18.0.1", false},       {"198.19.255.255", false},
      {"224.0.0.1", false},       {"240.0.0.1", false},        {"255.255.255.255", false},
      {"2001:4860::8888", true},  {"2606:4700::1111", true},   {"::ffff:8.8.8.8", true},
      {"::", false},              {"::1", false},              {"fc00::1", false},
      {"fd12:3456::1", false},    {"fe80::1", false},          {"febf::1", false},
      {"fec0::1", false},         {"ff02::1", false},          {"::ffff:127.0.0.1", false},
      {"::ffff:10.0.0.1", false}, {"::ffff:169.254.169.254", false},
      {"::127.0.0.1", false},     {"::192.168.0.1", false},    {"64:ff9b::a00:1", false},
      {"64:ff9b::808:808", true}, {"2002:7f00:1::", false},    {"2002:808:808::", true},
  };
  for (const auto& [text, expected] : cases) {
    BOOST_TEST(IsPublicAddress(asio::ip::make_address(text)) == expected, text);
  }
}

BOOST_AUTO_TEST_CASE(posts_body_and_headers_and_returns_a_500_as_a_reply) {
  std::mutex mu;
  Request seen;
  Listener listener([&](tcp::socket& s) { Answer(s, mu, &seen, 500, "{\"error\":1}"); });
  const OutboundUrl url = Url("http://127.0.0.1:" + std::to_string(listener.port()) + "/in?x=1");
  const ClientHeaders headers = {{"X-Keymeter-Signature", "v1=abc"}, {"Host", "evil.example"}};
  const Result<OutboundReply> reply = PostOnce(url, R"({"event":"x"})", headers, Private());
  BOOST_REQUIRE_MESSAGE(reply, (reply ? "" : reply.error().ToString()));
  BOOST_TEST(reply.value().status == 500);
  BOOST_TEST(reply.value().body == "{\"error\":1}");
  std::lock_guard<std::mutex> lock(mu);
  BOOST_TEST(seen.method() == bhttp::verb::post);
  BOOST_TEST(seen.target() == "/in?x=1");
  BOOST_TEST(seen.body() == R"({"event":"x"})");
  BOOST_TEST(seen[bhttp::field::content_type] == "application/json");
  BOOST_TEST(seen[bhttp::field::user_agent] == "keymeter-webhooks/1");
  BOOST_TEST(seen[bhttp::field::connection] == "close");
  BOOST_TEST(seen[bhttp::field::host] == "127.0.0.1:" + std::to_string(listener.port()));
  BOOST_TEST(seen.count(bhttp::field::host) == 1u);
  BOOST_TEST(seen["X-Keymeter-Signature"] == "v1=abc");
}

BOOST_AUTO_TEST_CASE(keeps_at_most_max_reply_bytes_and_never_follows_a_redirect) {
  std::mutex mu;
  Request seen;
  Listener listener([&](tcp::socket& s) {
    Answer(s, mu, &seen, 302, std::string(100000, 'r'), "http://127.0.0.1:1/elsewhere");
  });
  OutboundOptions options = Private();
  options.max_reply_bytes = 1000;
  const Result<OutboundReply> reply =
      PostOnce(Url("http://127.0.0.1:" + std::to_string(listener.port())), "{}", {}, options);
  BOOST_REQUIRE_MESSAGE(reply, (reply ? "" : reply.error().ToString()));
  BOOST_TEST(reply.value().status == 302);
  BOOST_TEST(reply.value().body == std::string(1000, 'r'));
  BOOST_TEST(listener.connections() == 1);
}

BOOST_AUTO_TEST_CASE(refuses_private_addresses_before_connecting) {
  std::mutex mu;
  Request seen;
  Listener listener([&](tcp::socket& s) { Answer(s, mu, &seen, 200, ""); });
  for (const char* host : {"127.0.0.1", "localhost", "[::ffff:127.0.0.1]"}) {
    const std::string port = std::to_string(listener.port());
    const OutboundUrl url = Url("http://" + std::string(host) + ":" + port + "/");
    const Result<OutboundReply> reply = PostOnce(url, "{}", {}, {.timeout = 2s});
    BOOST_REQUIRE(!reply);
    BOOST_TEST(reply.error().code() == Code::kAddressRefused, host);
  }
  std::this_thread::sleep_for(50ms);
  BOOST_TEST(listener.connections() == 0);
}

BOOST_AUTO_TEST_CASE(a_silent_listener_times_out) {
  Listener listener([](tcp::socket&) {});
  const Clock::time_point start = Clock::now();
  const OutboundUrl url = Url("http://127.0.0.1:" + std::to_string(listener.port()));
  const Result<OutboundReply> reply = PostOnce(url, "{}", {}, Private(300ms));
  const int64_t took =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  BOOST_REQUIRE(!reply);
  BOOST_TEST(reply.error().code() == Code::kHttpError);
  BOOST_TEST(reply.error().message() == "timeout: read");
  BOOST_TEST(took >= 290);
  BOOST_TEST(took < 1500);
}

BOOST_AUTO_TEST_CASE(a_closed_port_is_an_http_error) {
  uint16_t port = 0;
  {
    asio::io_context ioc;
    tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    port = acceptor.local_endpoint().port();
  }
  const Result<OutboundReply> reply =
      PostOnce(Url("http://127.0.0.1:" + std::to_string(port)), "{}", {}, Private());
  BOOST_REQUIRE(!reply);
  BOOST_TEST(reply.error().code() == Code::kHttpError);
  BOOST_TEST(reply.error().message().starts_with("connect: "), reply.error().message());
}

BOOST_AUTO_TEST_CASE(https_to_a_plain_listener_fails_in_the_handshake) {
  std::mutex mu;
  Request seen;
  Listener listener([&](tcp::socket& s) { Answer(s, mu, &seen, 200, "plain"); });
  const Result<OutboundReply> reply =
      PostOnce(Url("https://127.0.0.1:" + std::to_string(listener.port())), "{}", {}, Private());
  BOOST_REQUIRE(!reply);
  BOOST_TEST(reply.error().code() == Code::kHttpError);
  BOOST_TEST(reply.error().message().starts_with("tls handshake: "), reply.error().message());
}

BOOST_AUTO_TEST_CASE(https_verifies_the_peer_against_ca_file_and_the_host) {
  const Certificate cert;
  ssl::context server_tls(ssl::context::tls_server);
  server_tls.use_certificate_chain(asio::buffer(cert.cert_pem));
  server_tls.use_private_key(asio::buffer(cert.key_pem), ssl::context::pem);
  std::mutex mu;
  Request seen;
  Listener listener([&](tcp::socket& s) {
    ssl::stream<tcp::socket> tls(std::move(s), server_tls);
    boost::system::error_code ec;
    tls.handshake(ssl::stream_base::server, ec);
    if (!ec) Answer(tls, mu, &seen, 201, "secure");
  });
  const std::string port = std::to_string(listener.port());
  OutboundOptions options = Private();
  options.ca_file = cert.file.string();
  const Result<OutboundReply> reply = PostOnce(Url("https://127.0.0.1:" + port), "{}", {}, options);
  BOOST_REQUIRE_MESSAGE(reply, (reply ? "" : reply.error().ToString()));
  BOOST_TEST(reply.value().status == 201);
  BOOST_TEST(reply.value().body == "secure");

  // Without the CA; by a name the certificate doesn't have; with a CA file that isn't there.
  const auto error = [&](std::string_view url, const OutboundOptions& o) {
    const Result<OutboundReply> r = PostOnce(Url(url), "{}", {}, o);
    return r ? std::string("a reply") : r.error().message();
  };
  BOOST_TEST(error("https://127.0.0.1:" + port, Private()) ==
             "tls handshake: self-signed certificate");
  BOOST_TEST(error("https://localhost:" + port, options) == "tls handshake: hostname mismatch");
  options.ca_file = cert.file.string() + ".absent";
  BOOST_TEST(error("https://127.0.0.1:" + port, options).starts_with("ca_file: "));
}

BOOST_AUTO_TEST_CASE(refuses_headers_and_targets_that_could_split_the_request) {
  const OutboundUrl url = Url("http://127.0.0.1:9/");
  for (const ClientHeaders& headers :
       {ClientHeaders{{"X-Sig", "a\r\nX-Injected: secret"}}, ClientHeaders{{"X Sig", "a"}},
        ClientHeaders{{"", "a"}}, ClientHeaders{{"X-Sig:", "a"}}}) {
    const Result<OutboundReply> reply = PostOnce(url, "{}", headers, Private());
    BOOST_REQUIRE(!reply);
    BOOST_TEST(reply.error().code() == Code::kInvalidField);
    BOOST_TEST(reply.error().message().find("secret") == std::string::npos);
  }
  const OutboundUrl split{.host = "127.0.0.1", .port = 9, .target = "/ HTTP/1.1\r\nX: y"};
  const Result<OutboundReply> reply = PostOnce(split, "{}", {}, Private());
  BOOST_TEST((!reply && reply.error().code() == Code::kInvalidField));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace keymeter::http

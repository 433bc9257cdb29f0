// RequestParser: Beast's HTTP/1.1 request parser (basic_parser<true>) writing the request into
// a Message the connection keeps from one request to the next. Beast's
// request_parser<string_body> allocates each header field and indexes it in a tree; a Message
// assigns into the strings of the last request instead, so a warm connection allocates nothing
// to read a request like the last one.
//
// Usage: one Message per connection; a RequestParser per request (parsers are not reusable),
// made on the Message, fed with put() (or bhttp::async_read) like any basic_parser.
//
// Thread safety: none; a connection's.

#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keymeter::http {

class RequestParser : public boost::beast::http::basic_parser<true> {
 public:
  using Field = boost::beast::http::field;

  // The parts of one request. Its strings keep their storage for the next request.
  class Message {
   public:
    std::string_view method() const { return method_; }
    std::string_view target() const { return target_; }
    unsigned version() const { return version_; }  // 10 or 11
    std::string_view body() const { return body_; }
    size_t field_count() const { return count_; }
    std::pair<std::string_view, std::string_view> field(size_t i) const {
      return {fields_[i].name, fields_[i].value};
    }
    // The first value of a field Beast knows by name, or "" when absent.
    std::string_view operator[](Field id) const;

   private:
    friend class RequestParser;
    struct Entry {
      Field id = Field::unknown;
      std::string name, value;
    };
    std::string method_, target_, body_;
    unsigned version_ = 11;
    std::vector<Entry> fields_;  // [0, count_) are this request's
    size_t count_ = 0;
  };

  // Starts a request in `message` (which must outlive the parser), dropping the last one's.
  explicit RequestParser(Message& message);

  const Message& get() const { return message_; }

 private:
  using string_view = boost::beast::string_view;
  using error_code = boost::beast::error_code;

  void on_request_impl(boost::beast::http::verb, string_view method, string_view target,
                       int version, error_code& ec) override;
  void on_response_impl(int, string_view, int, error_code& ec) override;
  void on_field_impl(Field id, string_view name, string_view value, error_code& ec) override;
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code& ec) override;
  size_t on_body_impl(string_view body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) override;
  void on_finish_impl(error_code&) override {}

  Message& message_;
};

}  // namespace keymeter::http

#include "http/request_parser.h"

#include <boost/beast/http/error.hpp>

#include <algorithm>

#include "schemas/text.h"

namespace keymeter::http {

namespace {

// A body's storage beyond this is released before the next request, so that an idle
// connection does not keep a large upload's buffer.
constexpr size_t kKeptBodyCapacity = 64 << 10;

}  // namespace

std::string_view RequestParser::Message::operator[](Field id) const {
  for (size_t i = 0; i < count_; ++i) {
    if (fields_[i].id == id) return fields_[i].value;
  }
  return {};
}

RequestParser::RequestParser(Message& message) : message_(message) {
  message_.method_.clear();
  message_.target_.clear();
  message_.version_ = 11;
  message_.count_ = 0;
  if (message_.body_.capacity() > kKeptBodyCapacity) std::string().swap(message_.body_);
  message_.body_.clear();
}

void RequestParser::on_request_impl(boost::beast::http::verb, string_view method,
                                    string_view target, int version, error_code&) {
  message_.method_.assign(method.data(), method.size());
  message_.target_.assign(target.data(), target.size());
  message_.version_ = unsigned(version);
}

void RequestParser::on_response_impl(int, string_view, int, error_code& ec) {
  ec = boost::beast::http::error::bad_version;  // a request parser never sees a status line
}

void RequestParser::on_field_impl(Field id, string_view name, string_view value,
                                  error_code& ec) {
  // A chunked body's trailer fields are not kept (RFC 9110 §6.5.1 lets a recipient drop them),
  // so that nothing sent after the body can pass for a header a proxy in front checked or
  // removed. (Beast's own checks still see them: a Content-Length trailer is refused.)
  if (is_header_done()) return;
  // Transfer-Encoding: only "chunked", in HTTP/1.1. Beast frames the body by chunked only when
  // it is the last coding, takes any other as no body at all, and accepts a Content-Length
  // after one: a request whose framing a proxy may read otherwise (RFC 9112 §6.3: 400, close).
  if (id == Field::transfer_encoding &&
      (message_.version_ != 11 ||
       !EqualsIgnoreCase(TrimWhitespace({value.data(), value.size()}), "chunked"))) {
    ec = boost::beast::http::error::bad_transfer_encoding;
    return;
  }
  if (message_.count_ == message_.fields_.size()) message_.fields_.emplace_back();
  Message::Entry& e = message_.fields_[message_.count_++];
  e.id = id;
  e.name.assign(name.data(), name.size());
  e.value.assign(value.data(), value.size());
}

void RequestParser::on_body_init_impl(const boost::optional<std::uint64_t>& length,
                                      error_code&) {
  // The parser has checked `length` against its body limit already; the storage grows with what
  // arrives beyond kKeptBodyCapacity, so that a header alone does not hold a large allocation.
  if (length) message_.body_.reserve(std::min<size_t>(size_t(*length), kKeptBodyCapacity));
}

size_t RequestParser::on_body_impl(string_view body, error_code&) {
  message_.body_.append(body.data(), body.size());
  return body.size();
}

size_t RequestParser::on_chunk_body_impl(std::uint64_t, string_view body, error_code&) {
  message_.body_.append(body.data(), body.size());
  return body.size();
}

}  // namespace keymeter::http

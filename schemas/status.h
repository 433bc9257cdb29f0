// Status and Result<T>: keymeter's one error type. Errors are values with a stable code
// ("NO-SUCH-API-KEY", "KAFKA-ERROR", "IO-ERROR", ...) that APIs, metrics and the DLQ show as is,
// and a message for humans. Library errors (rocksdb::Status, librdkafka) are converted to a
// Status at the module boundary.
//
// Thread safety: values; safe to copy between threads.

#pragma once

#include <string>
#include <utility>

#include <boost/outcome/result.hpp>

namespace keymeter {

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(std::string code, std::string message)
      : code_(std::move(code)), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_.empty(); }
  // "OK" when ok(), else the stable error code.
  const std::string& code() const {
    static const std::string kOk = "OK";
    return ok() ? kOk : code_;
  }
  const std::string& message() const { return message_; }
  std::string ToString() const { return ok() ? "OK" : code_ + ": " + message_; }

  friend bool operator==(const Status& a, const Status& b) { return a.code_ == b.code_; }

 private:
  std::string code_;
  std::string message_;
};

// A value or a Status. Reading the value of an error result terminates (a programmer error).
template <class T>
using Result = boost::outcome_v2::result<T, Status, boost::outcome_v2::policy::terminate>;

}  // namespace keymeter

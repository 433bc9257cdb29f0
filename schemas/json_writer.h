// Writing JSON: string escaping and a small streaming writer, for every module that emits JSON
// (HTTP bodies, `keymeter log`, exports).
//
// Output is always valid JSON in UTF-8: control characters are escaped and bytes that are not
// valid UTF-8 become U+FFFD, so text that came from a client can be echoed safely.
//
// Thread safety: free functions are thread-safe; a JsonWriter is used by one thread at a time.

#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace keymeter {

// Appends `s` to `out` as a quoted JSON string.
void AppendJsonString(std::string* out, std::string_view s);

// Builds one JSON value, inserting commas itself:
//   JsonWriter w; w.BeginObject(); w.Key("ready"); w.Bool(true); w.EndObject();
//   std::string body = w.Take();  // {"ready":true}
// Misuse (a value without a key inside an object, unbalanced ends) is not detected: the output
// is then not valid JSON.
class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Uint(uint64_t value);
  JsonWriter& Double(double value);  // non-finite values are written as null
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  JsonWriter& Raw(std::string_view json);  // an already serialized value

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void BeforeValue();
  std::string out_;
  std::vector<bool> has_items_;  // per open container: something written already
  bool after_key_ = false;
};

}  // namespace keymeter

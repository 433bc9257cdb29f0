// Projector::ApplyAll: a chunk applied in groups whose lookups are prefetched first
// (engine/projector.h).
#include <algorithm>
#include <array>

#include "engine/projector.h"

namespace keymeter {

void Projector::ApplyAll(const std::vector<SourceMessage>& messages) {
  // 16 events ahead: far enough for a miss to land (an event takes about a microsecond), near
  // enough that what was loaded is still in L1/L2 when the event is applied.
  constexpr size_t kPrefetchGroup = 16;
  std::array<Decoded, kPrefetchGroup> decoded;
  for (size_t start = 0; start < messages.size(); start += kPrefetchGroup) {
    const size_t end = std::min(messages.size(), start + kPrefetchGroup);
    for (size_t i = start; i < end; ++i) {
      decoded[i - start] = DecodeEnvelope(messages[i].payload, options_.max_message_bytes);
      if (decoded[i - start].ok()) Prefetch(*decoded[i - start].envelope, messages[i]);
    }
    for (size_t i = start; i < end; ++i) Apply(messages[i], std::move(decoded[i - start]));
  }
}

void Projector::Prefetch(const fb::Envelope& env, const SourceMessage& m) {
  if (env.op_type() != fb::Op::RequestEvent) return;
  const fb::RequestEvent& r = *env.op_as_RequestEvent();  // fields checked by DecodeEnvelope
  const std::optional<KeyId> id = KeyId::Parse(r.key_id()->string_view());
  if (!id) return;
  directory_.Prefetch(*id);
  quota_.Prefetch(*id);
  usage_.Prefetch(*id, r.time_us());
  RequestIdBytes request_id;
  std::copy(r.request_id()->bytes()->begin(), r.request_id()->bytes()->end(), request_id.begin());
  Partition(m.partition).dedupe->Prefetch(r.account_id()->string_view(), request_id);
}

}  // namespace keymeter

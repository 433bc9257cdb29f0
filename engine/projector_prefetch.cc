// Projector::ApplyAll: a chunk applied in groups whose lookups are prefetched first
// (engine/projector.h).
#include <algorithm>
#include <array>

#include "engine/projector.h"
#include "schemas/envelope.h"

namespace keymeter {

void Projector::ApplyAll(const std::vector<SourceMessage>& messages) {
  // 16 events ahead: far enough for a miss to land (an event takes about a microsecond), near
  // enough that what was loaded is still in L1/L2 when the event is applied.
  constexpr size_t kPrefetchGroup = 16;
  std::array<Decoded, kPrefetchGroup> decoded;
  std::array<Prefetched, kPrefetchGroup> prefetched;
  for (size_t start = 0; start < messages.size(); start += kPrefetchGroup) {
    const size_t end = std::min(messages.size(), start + kPrefetchGroup);
    for (size_t i = start; i < end; ++i) {
      decoded[i - start] = DecodeEnvelope(messages[i].payload, options_.max_message_bytes);
      prefetched[i - start] = decoded[i - start].ok()
                                  ? Prefetch(*decoded[i - start].envelope, messages[i])
                                  : Prefetched{};
    }
    for (size_t i = start; i < end; ++i) {
      Apply(messages[i], std::move(decoded[i - start]), prefetched[i - start]);
    }
  }
}

Projector::Prefetched Projector::Prefetch(const fb::Envelope& env, const SourceMessage& m) {
  Prefetched out;
  if (env.op_type() != fb::Op::RequestEvent) return out;
  const fb::RequestEvent& r = *env.op_as_RequestEvent();  // fields checked by DecodeEnvelope
  out.key = KeyId::Parse(r.key_id()->string_view());
  if (!out.key) return out;
  directory_.Prefetch(*out.key);
  quota_.Prefetch(*out.key);
  usage_.Prefetch(*out.key, r.time_us());
  const RequestIdBytes request_id = RequestIdFromFb(r.request_id());
  // The event's account: ApplyRequest drops an event whose key is another account's before it
  // looks the id up, so this is the key's account whenever the id is used.
  out.dedupe = DedupeWindow::IdOf(r.account_id()->string_view(), request_id);
  Partition(m.partition).dedupe->Prefetch(out.dedupe);
  return out;
}

}  // namespace keymeter

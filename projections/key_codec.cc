#include "projections/key_codec.h"

#include "projections/aligned.h"
#include "schemas/envelope.h"
#include "schemas/records_generated.h"

namespace keymeter {

namespace {



std::vector<std::string> Strings(const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>* v) {
  std::vector<std::string> out;
  if (v != nullptr) {
    for (const flatbuffers::String* s : *v) out.push_back(s->str());
  }
  return out;
}

template <class T>
bool Verify(std::string_view bytes) {
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return verifier.VerifyBuffer<T>(nullptr);
}

std::string Finish(flatbuffers::FlatBufferBuilder& b) {
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

}  // namespace

std::string EncodeAccount(const AccountState& a) {
  flatbuffers::FlatBufferBuilder b(256);
  fb::Sha256 token = DigestToFb(a.admin_token_hash);
  std::vector<fb::MonthVersion> months;
  for (const auto& [month, version] : a.adjusted_months()) months.emplace_back(month, version);
  auto record = fb::CreateAccountRecordDirect(b, a.account_id.c_str(), a.name.c_str(), &token,
                                              a.require_confirmation, a.created_us,
                                              a.updated_us, a.next_audit_seq,
                                              a.admin_token_revoked, a.suspended,
                                              months.empty() ? nullptr : &months);
  b.Finish(record);
  return Finish(b);
}

std::optional<AccountState> DecodeAccount(std::string_view stored) {
  const AlignedBytes aligned(stored);
  const std::string_view bytes = aligned.view();
  if (!Verify<fb::AccountRecord>(bytes)) return std::nullopt;
  const auto* r = flatbuffers::GetRoot<fb::AccountRecord>(bytes.data());
  AccountState a;
  a.account_id = Str(r->account_id());
  a.name = Str(r->name());
  a.admin_token_hash = DigestFromFb(r->admin_token_hash());
  a.require_confirmation = r->require_confirmation();
  a.created_us = r->created_us();
  a.updated_us = r->updated_us();
  a.next_audit_seq = r->next_audit_seq();
  a.admin_token_revoked = r->admin_token_revoked();
  a.suspended = r->suspended();
  if (r->adjusted_months() != nullptr) {
    for (const fb::MonthVersion* m : *r->adjusted_months()) {
      a.extras.mutable_get().adjusted_months.emplace_back(m->month_start_us(), m->version());
    }
  }
  return a;
}

std::string EncodeGateway(const GatewayState& g) {
  flatbuffers::FlatBufferBuilder b(128);
  fb::Sha256 token = DigestToFb(g.token_hash);
  b.Finish(fb::CreateGatewayRecordDirect(b, g.gateway_id.c_str(), g.name.c_str(), &token,
                                         g.created_us, g.revoked_us));
  return Finish(b);
}

std::optional<GatewayState> DecodeGateway(std::string_view stored) {
  const AlignedBytes aligned(stored);
  const std::string_view bytes = aligned.view();
  if (!Verify<fb::GatewayRecord>(bytes)) return std::nullopt;
  const auto* r = flatbuffers::GetRoot<fb::GatewayRecord>(bytes.data());
  if (r->token_hash() == nullptr) return std::nullopt;
  GatewayState g;
  g.gateway_id = Str(r->gateway_id());
  g.name = Str(r->name());
  g.token_hash = DigestFromFb(r->token_hash());
  g.created_us = r->created_us();
  g.revoked_us = r->revoked_us();
  return g;
}

std::string EncodeKey(const KeyState& k) {
  flatbuffers::FlatBufferBuilder b(512);
  std::vector<flatbuffers::Offset<fb::Setting>> settings;
  const KeyExtras& x = k.extras();
  for (const auto& [name, value] : x.config.settings) {
    settings.push_back(fb::CreateSettingDirect(b, name.c_str(), value.c_str()));
  }
  std::vector<flatbuffers::Offset<flatbuffers::String>> ips, domains, products;
  for (const auto& s : x.ips) ips.push_back(b.CreateString(s));
  for (const auto& s : x.domains) domains.push_back(b.CreateString(s));
  for (const auto& s : x.config.products) products.push_back(b.CreateString(s));
  fb::Sha256 secret = DigestToFb(k.secret_hash);
  fb::Sha256 old = DigestToFb(x.old_secret_hash);
  auto record = fb::CreateKeyRecordDirect(
      b, k.id.str().c_str(), k.account_id.c_str(), &secret, x.has_old_secret ? &old : nullptr,
      x.grace_until_us, k.label.c_str(), k.status,
      k.parent.empty() ? nullptr : k.parent.str().c_str(), &ips, &domains, &products, &settings,
      k.daily_requests, k.monthly_units, k.member_cap, k.created_us, k.updated_us,
      x.root_at_delete.empty() ? nullptr : x.root_at_delete.str().c_str(), x.member_monthly_units,
      x.rate.per_second, x.rate.per_minute, x.rate.per_hour, x.expires_at_us, x.credits.enabled,
      x.credits.balance, x.credits.refill_units, x.credits.refill_period, x.credits.rollover,
      x.credits.refilled_us, x.alert_percents.empty() ? nullptr : &x.alert_percents,
      x.alert_day.start, x.alert_day.count, x.alert_month.start, x.alert_month.count,
      x.alert_credits.start, x.alert_credits.opening, x.alert_credits.spent);
  b.Finish(record);
  return Finish(b);
}

std::optional<KeyState> DecodeKey(std::string_view stored) {
  const AlignedBytes aligned(stored);
  const std::string_view bytes = aligned.view();
  if (!Verify<fb::KeyRecord>(bytes)) return std::nullopt;
  const auto* r = flatbuffers::GetRoot<fb::KeyRecord>(bytes.data());
  std::optional<KeyId> id = KeyId::Parse(Str(r->key_id()));
  if (!id) return std::nullopt;
  KeyState k;
  k.id = *id;
  k.account_id = Str(r->account_id());
  k.secret_hash = DigestFromFb(r->secret_hash());
  KeyExtras& x = k.mutable_extras();
  x.has_old_secret = r->old_secret_hash() != nullptr;
  x.old_secret_hash = DigestFromFb(r->old_secret_hash());
  x.grace_until_us = r->grace_until_us();
  k.label = Str(r->label());
  k.status = r->status();
  if (r->parent_key_id() != nullptr) k.parent = KeyId::Parse(r->parent_key_id()->str()).value_or(KeyId());
  x.ips = Strings(r->ips());
  x.domains = Strings(r->domains());
  x.sources = AllowedSources(x.ips);
  x.config.products = Strings(r->products());
  if (r->settings() != nullptr) {
    for (const fb::Setting* s : *r->settings()) {
      x.config.settings.emplace_back(Str(s->name()), Str(s->value()));
    }
  }
  k.daily_requests = r->daily_requests();
  k.monthly_units = r->monthly_units();
  k.member_cap = r->member_cap();
  k.created_us = r->created_us();
  k.updated_us = r->updated_us();
  if (r->root_at_delete() != nullptr) {
    x.root_at_delete = KeyId::Parse(r->root_at_delete()->str()).value_or(KeyId());
  }
  x.member_monthly_units = r->member_monthly_units();
  x.rate = {.per_second = r->per_second(), .per_minute = r->per_minute(), .per_hour = r->per_hour()};
  x.expires_at_us = r->expires_at_us();
  x.credits = {.enabled = r->credits_enabled(),
               .balance = r->credits_balance(),
               .refill_units = r->credits_refill_units(),
               .refill_period = r->credits_refill_period(),
               .rollover = r->credits_rollover(),
               .refilled_us = r->credits_refilled_us()};
  if (r->alert_percents() != nullptr) {
    x.alert_percents.assign(r->alert_percents()->begin(), r->alert_percents()->end());
  }
  x.alert_day = {.start = r->alert_day_start_us(), .count = r->alert_day_count()};
  x.alert_month = {.start = r->alert_month_start_us(), .count = r->alert_month_count()};
  x.alert_credits = {.start = r->alert_credits_start_us(),
                     .opening = r->alert_credits_opening(),
                     .spent = r->alert_credits_spent()};
  k.DropEmptyExtras();
  return k;
}

}  // namespace keymeter

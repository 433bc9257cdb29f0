// Webhook endpoints (docs/api.md "Webhooks", projections/webhooks.h).
//
//   WebhookCreated := FORBIDDEN (a member)
//                   | INVALID-WEBHOOK (an id not "wh_" and 1..64 of [A-Za-z0-9_-]; a url not
//                     http(s)://, over 2048 bytes or with spaces or control characters; an
//                     unknown event; an id the account has)
//                   | TOO-MANY-WEBHOOKS (the account has kMaxWebhooksPerAccount)
//                   | OK: the webhook added, its record written
//   WebhookDeleted := FORBIDDEN (a member) | NO-SUCH-WEBHOOK
//                   | OK: the webhook, its delivery log and its pending deliveries removed
//
// The API checks a URL fully (http/outbound.h) before it publishes; this is the log's check
// for an op written by anything else.

#include <algorithm>

#include "projections/key_ops_internal.h"
#include "projections/webhooks.h"

namespace keymeter {
namespace key_ops {

namespace {

bool ValidWebhookId(std::string_view id) {
  if (!id.starts_with("wh_") || id.size() < 4 || id.size() > 67) return false;
  return std::all_of(id.begin() + 3, id.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-';
  });
}

bool PlausibleUrl(std::string_view url) {
  if (url.size() > kMaxWebhookUrlBytes) return false;
  if (!url.starts_with("http://") && !url.starts_with("https://")) return false;
  return std::all_of(url.begin(), url.end(),
                     [](char ch) { return uint8_t(ch) > 0x20 && uint8_t(ch) < 0x7f; });
}

auto ById(std::vector<WebhookState>& webhooks, std::string_view id) {
  return std::lower_bound(webhooks.begin(), webhooks.end(), id,
                          [](const WebhookState& w, std::string_view v) { return w.webhook_id < v; });
}

}  // namespace

Status CreateWebhook(OpContext& c, const fb::WebhookCreated& op) {
  if (c.actor() == fb::ActorKind::Member) {
    return Refuse(Code::kForbidden, "a member may not register webhooks");
  }
  const std::string id = Str(op.webhook_id());
  if (!ValidWebhookId(id)) {
    return Refuse(Code::kInvalidWebhook, "webhook_id: wh_ and 1..64 of [A-Za-z0-9_-]");
  }
  const std::string url = Str(op.url());
  if (!PlausibleUrl(url)) {
    return Refuse(Code::kInvalidWebhook,
                  "url: http:// or https://, at most 2048 visible ASCII characters");
  }
  Result<uint8_t> events = ParseWebhookEvents(Strings(op.events()));
  if (!events) return events.error();
  std::vector<WebhookState>& webhooks = c.account->extras.mutable_get().webhooks;
  auto at = ById(webhooks, id);
  if (at != webhooks.end() && at->webhook_id == id) {
    std::string message = "the account has a webhook ";
    message.append(id);
    return Refuse(Code::kInvalidWebhook, std::move(message));
  }
  if (webhooks.size() >= kMaxWebhooksPerAccount) {
    return Refuse(Code::kTooManyWebhooks, "an account has at most 10 webhooks");
  }
  at = webhooks.insert(at, WebhookState{.webhook_id = id,
                                        .url = url,
                                        .events = events.value(),
                                        .created_us = c.now});
  PutWebhook(c.batch, KeyDirectoryInternal::Handle(c.dir, Cf::kWebhooks),
             c.account->account_id.str(), *at);
  c.detail = id;
  c.detail.append(" for");
  for (std::string_view name : WebhookEventNames(at->events)) c.detail.append(" ").append(name);
  return Status::Ok();
}

Status DeleteWebhookOp(OpContext& c, const fb::WebhookDeleted& op) {
  if (c.actor() == fb::ActorKind::Member) {
    return Refuse(Code::kForbidden, "a member may not delete webhooks");
  }
  const std::string id = Str(op.webhook_id());
  std::vector<WebhookState>& webhooks = c.account->extras.mutable_get().webhooks;
  auto at = ById(webhooks, id);
  if (at == webhooks.end() || at->webhook_id != id) {
    std::string message = "no webhook ";
    message.append(id, 0, 67);
    return Refuse(Code::kNoSuchWebhook, std::move(message));
  }
  webhooks.erase(at);
  DeleteWebhook(c.batch, KeyDirectoryInternal::Handle(c.dir, Cf::kWebhooks),
                KeyDirectoryInternal::Handle(c.dir, Cf::kOutbox), c.account->account_id.str(),
                id);
  c.detail = id;
  c.detail.append(" deleted");
  return Status::Ok();
}

}  // namespace key_ops
}  // namespace keymeter

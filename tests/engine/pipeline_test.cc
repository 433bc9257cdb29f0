// The embedded pipeline end to end: publish to the embedded log, the projector thread applies,
// admin commands get their outcome, a restart resumes, and the DLQ column family fills.
#define BOOST_TEST_MODULE pipeline
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>

#include "engine/pipeline.h"
#include "schemas/envelope.h"
#include "tests/common/temp_dir.h"
#include "tests/engine/workload.h"

using namespace keymeter;
using namespace keymeter::testing;
using namespace std::chrono_literals;

namespace {

void WaitReady(Pipeline& p) {
  for (int i = 0; i < 500 && !p.Readiness().first; ++i) std::this_thread::sleep_for(10ms);
  BOOST_REQUIRE_MESSAGE(p.Readiness().first, p.Readiness().second);
}

std::unique_ptr<Pipeline> OpenPipeline(const std::string& dir) {
  Result<std::unique_ptr<Pipeline>> p = Pipeline::Open({.data_dir = dir});
  BOOST_REQUIRE_MESSAGE(p.has_value(), (p.has_error() ? p.error().ToString() : ""));
  return std::move(p.value());
}

}  // namespace

BOOST_AUTO_TEST_CASE(admin_commands_get_the_outcome_the_projector_recorded) {
  TempDir tmp;
  auto p = OpenPipeline(tmp.sub("db"));
  p->Start();
  EnvelopeHeader h{.command_id = "create-1", .time_us = 1'000'000, .actor = fb::ActorKind::Operator,
                   .account_id = "acctPipe"};
  std::string create = BuildAccountCreated(h, "pipe", Sha256("t"), false);
  BOOST_REQUIRE(p->Publish(std::span(reinterpret_cast<const uint8_t*>(create.data()), create.size()),
                           "acctPipe").ok());
  std::optional<Status> outcome = p->AwaitOutcome("create-1", 5s);
  BOOST_REQUIRE(outcome.has_value());
  BOOST_TEST(outcome->ok());
  h.command_id = "create-2";
  create = BuildAccountCreated(h, "pipe", Sha256("t"), false);
  BOOST_REQUIRE(p->Publish(std::span(reinterpret_cast<const uint8_t*>(create.data()), create.size()),
                           "acctPipe").ok());
  outcome = p->AwaitOutcome("create-2", 5s);
  BOOST_REQUIRE(outcome.has_value());
  BOOST_TEST(outcome->name() == "DUPLICATE-ACCOUNT");
  BOOST_TEST(!p->AwaitOutcome("never-sent", 10ms).has_value());
  WaitReady(*p);
}

BOOST_AUTO_TEST_CASE(a_workload_through_the_embedded_log_survives_a_restart) {
  TempDir tmp, reference_dir;
  Workload w = MakeWorkload(8, 4, 600);
  std::vector<std::pair<std::string, std::string>> first, second;
  for (size_t i = 0; i < w.log.size(); ++i) {
    const fb::Envelope* env = VerifyEnvelope(std::span(
        reinterpret_cast<const uint8_t*>(w.log[i].payload.data()), w.log[i].payload.size()));
    // Undecodable messages are keyed like their neighbours: partition 0's account.
    std::string account = env ? env->account_id()->str() : "acct8x0";
    (i < w.log.size() / 2 ? first : second).emplace_back(w.log[i].payload, account);
  }
  std::string live_checksum;
  {
    auto p = OpenPipeline(tmp.sub("db"));
    BOOST_REQUIRE(p->PublishMany(first).ok());
    p->Start();
    WaitReady(*p);
    p->Stop();
  }
  {
    auto p = OpenPipeline(tmp.sub("db"));
    BOOST_REQUIRE(p->PublishMany(second).ok());
    p->Start();
    std::this_thread::sleep_for(50ms);
    WaitReady(*p);
    p->Stop();
    BOOST_TEST(p->projector().stats().requests_applied > 0u);
    live_checksum = p->store().Checksum().value();
  }
  // The same log applied in one go gives the same projections.
  auto p = OpenPipeline(reference_dir.sub("db"));
  std::vector<std::pair<std::string, std::string>> all = first;
  all.insert(all.end(), second.begin(), second.end());
  BOOST_REQUIRE(p->PublishMany(all).ok());
  p->Start();
  std::this_thread::sleep_for(50ms);
  WaitReady(*p);
  p->Stop();
  BOOST_TEST(p->store().Checksum().value() == live_checksum);
  uint64_t dlq = 0;
  for (const auto& [reason, n] : p->dead_letters().CountsByReason()) dlq += n;
  BOOST_TEST(dlq > 0u);
}

// Under steady traffic almost no batch comes back empty; a member that keeps up with it is
// ready all along (it once said "catching up with the log" for as long as traffic lasted).
BOOST_AUTO_TEST_CASE(a_pipeline_that_keeps_up_with_steady_traffic_stays_ready) {
  TempDir tmp;
  auto p = OpenPipeline(tmp.sub("db"));
  p->Start();
  WaitReady(*p);
  std::atomic<bool> stop{false};
  std::atomic<int> published{0};
  std::thread traffic([&] {
    for (int i = 0; !stop; ++i) {
      EnvelopeHeader h{.command_id = "steady-" + std::to_string(i), .time_us = 1'000'000 + i,
                       .actor = fb::ActorKind::Operator, .account_id = "acctSteady"};
      const std::string op = BuildAccountCreated(h, "steady", Sha256("t"), false);
      if (p->Publish(std::span(reinterpret_cast<const uint8_t*>(op.data()), op.size()),
                     "acctSteady").ok()) {
        ++published;
      }
      std::this_thread::sleep_for(2ms);  // ~400 a second: every batch window has some
    }
  });
  int samples = 0, not_ready = 0;
  std::string reason;
  for (auto end = std::chrono::steady_clock::now() + 3s; std::chrono::steady_clock::now() < end;
       std::this_thread::sleep_for(10ms)) {
    const auto [ready, why] = p->Readiness();
    ++samples;
    if (!ready) ++not_ready, reason = why;
  }
  stop = true;
  traffic.join();
  BOOST_TEST(published > 500);
  BOOST_TEST(samples > 100);
  BOOST_TEST(not_ready == 0, not_ready << " of " << samples << " samples not ready: " << reason);
}

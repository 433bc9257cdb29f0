// HttpProbe: every response counts once under its route and status, from one thread or
// several, and two probes in one process (two servers) never count into each other.
#define BOOST_TEST_MODULE http_probe
#include <prometheus/registry.h>

#include <boost/test/unit_test.hpp>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "http/probe.h"

using namespace keymeter::http;

namespace {

// (route, status) -> requests counted, and route -> durations observed, from `registry`.
struct Counts {
  std::map<std::pair<std::string, std::string>, double> requests;
  std::map<std::string, uint64_t> observed;
};

Counts Collect(prometheus::Registry& registry) {
  Counts c;
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    for (const prometheus::ClientMetric& m : f.metric) {
      std::map<std::string, std::string> labels;
      for (const prometheus::ClientMetric::Label& l : m.label) labels[l.name] = l.value;
      if (f.name == "keymeter_http_requests_total") {
        c.requests[{labels["route"], labels["status"]}] = m.counter.value;
      } else if (f.name == "keymeter_http_request_duration_seconds") {
        c.observed[labels["route"]] = m.histogram.sample_count;
      }
    }
  }
  return c;
}

}  // namespace

BOOST_AUTO_TEST_CASE(each_response_counts_once_under_its_route_and_status) {
  prometheus::Registry registry;
  HttpProbe probe(registry);
  // Eleven routes and two statuses in turn.
  std::map<std::pair<std::string, std::string>, double> expected;
  for (int i = 0; i < 500; ++i) {
    const std::string route = "/v1/r" + std::to_string(i % 11);
    const int status = i % 3 == 0 ? 404 : 200;
    probe.RequestServed(route, status, std::chrono::microseconds(100));
    expected[{route, std::to_string(status)}] += 1;
  }
  probe.RequestServed("", 404, std::chrono::microseconds(1));  // no route matched
  expected[{"unmatched", "404"}] += 1;
  // A long pattern.
  const std::string long_route = "/v1/" + std::string(80, 'x');
  for (int i = 0; i < 3; ++i) probe.RequestServed(long_route, 200, std::chrono::microseconds(1));
  expected[{long_route, "200"}] += 3;
  const Counts c = Collect(registry);
  BOOST_TEST(c.requests == expected);
  uint64_t observed = 0;
  for (const auto& [route, n] : c.observed) observed += n;
  BOOST_TEST(observed == 504u);
}

BOOST_AUTO_TEST_CASE(two_probes_on_one_thread_count_apart_and_threads_add_up) {
  prometheus::Registry first_registry, second_registry;
  auto first = std::make_unique<HttpProbe>(first_registry);
  HttpProbe second(second_registry);
  for (int i = 0; i < 10; ++i) {
    first->RequestServed("/v1/authorize", 204, std::chrono::microseconds(5));
    second.RequestServed("/v1/authorize", 204, std::chrono::microseconds(5));
  }
  second.RequestServed("/v1/authorize", 204, std::chrono::microseconds(5));
  BOOST_TEST((Collect(first_registry).requests[{"/v1/authorize", "204"}]) == 10);
  BOOST_TEST((Collect(second_registry).requests[{"/v1/authorize", "204"}]) == 11);
  // A probe made after another is gone starts from nothing, even at the same address.
  first.reset();
  prometheus::Registry third_registry;
  auto third = std::make_unique<HttpProbe>(third_registry);
  third->RequestServed("/v1/authorize", 204, std::chrono::microseconds(5));
  BOOST_TEST((Collect(third_registry).requests[{"/v1/authorize", "204"}]) == 1);
  // Threads at once: every response counted.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        third->RequestServed(i % 2 ? "/v1/authorize" : "/healthz", 200,
                             std::chrono::microseconds(1));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const Counts c = Collect(third_registry);
  BOOST_TEST((c.requests.at({"/v1/authorize", "200"})) == 2000);
  BOOST_TEST((c.requests.at({"/healthz", "200"})) == 2000);
}

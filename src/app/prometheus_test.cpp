#include "app/prometheus.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace rollcall::app {
namespace {

TEST(Prometheus, WritesHelpTypeAndLabelledSamples) {
  PrometheusWriter w;
  w.family("rollcall_connections", "gauge", "Sockets connected now");
  w.sample("rollcall_connections", {{"transport", "websocket"}, {"nsp", "/"}}, 3);
  w.sample("rollcall_users_online", {}, 0);
  EXPECT_EQ(w.take(),
            "# HELP rollcall_connections Sockets connected now\n"
            "# TYPE rollcall_connections gauge\n"
            "rollcall_connections{transport=\"websocket\",nsp=\"/\"} 3\n"
            "rollcall_users_online 0\n");
  EXPECT_EQ(w.take(), "");  // take() starts over
}

TEST(Prometheus, EscapesLabelValuesAndHelp) {
  PrometheusWriter w;
  w.family("m", "gauge", "a \\ b\nc \"quoted\"");
  w.sample("m", {{"nsp", "/a\"b\\c\nd"}}, 1);
  EXPECT_EQ(w.take(),
            "# HELP m a \\\\ b\\nc \"quoted\"\n"
            "# TYPE m gauge\n"
            "m{nsp=\"/a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(Prometheus, FormatsSpecialAndFractionalValues) {
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(12), "12");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
  EXPECT_EQ(format_value(18446744073709551615.0), "1.8446744073709552e+19");
}

TEST(Prometheus, HistogramHasCumulativeBucketsInfSumAndCount) {
  HistogramSnapshot h{{0.1, 1}, {2, 3}, 4, 7.5};
  PrometheusWriter w;
  w.histogram("lag_seconds", "Lag", h, {{"loop", "0"}});
  EXPECT_EQ(w.take(),
            "# HELP lag_seconds Lag\n"
            "# TYPE lag_seconds histogram\n"
            "lag_seconds_bucket{loop=\"0\",le=\"0.1\"} 2\n"
            "lag_seconds_bucket{loop=\"0\",le=\"1\"} 3\n"
            "lag_seconds_bucket{loop=\"0\",le=\"+Inf\"} 4\n"
            "lag_seconds_sum{loop=\"0\"} 7.5\n"
            "lag_seconds_count{loop=\"0\"} 4\n");
}

}  // namespace
}  // namespace rollcall::app

// Prometheus text exposition format 0.0.4: the small writer /metrics uses
// (no packaged C++ client here). Each family gets one # HELP and # TYPE;
// label values and help texts are escaped as the format says.
#pragma once

#include <rollcall/stats.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rollcall::app {

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

class PrometheusWriter {
 public:
  // Starts a family: type is "counter", "gauge" or "histogram".
  void family(std::string_view name, std::string_view type, std::string_view help);
  // One sample of the current family (`suffix` for a histogram's _bucket,
  // _sum and _count).
  void sample(std::string_view name, const Labels& labels, double value);
  // A whole histogram family (one label set).
  void histogram(std::string_view name, std::string_view help, const HistogramSnapshot& h,
                 const Labels& labels = {});
  // The exposition (and starts over).
  std::string take() { return std::exchange(out_, {}); }

  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  std::string out_;
};

// "1", "0.25", "+Inf", "NaN": how the format writes a number.
std::string format_value(double v);

}  // namespace rollcall::app

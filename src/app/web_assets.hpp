// The files rollcalld serves at /admin/ and /demo/, compiled into the
// binary (cmake/embed.cmake, from src/app/web): no CDN, works offline.
#pragma once

#include <string_view>
#include <vector>

namespace rollcall::app {

struct WebAsset {
  std::string_view name;  // "admin/index.html", "demo/demo.js", "socket.io.min.js"
  std::string_view bytes;
};

const std::vector<WebAsset>& web_assets();

}  // namespace rollcall::app

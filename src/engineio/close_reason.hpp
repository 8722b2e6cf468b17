// Why a connection or a socket ended. Compared as an enum everywhere; the
// Node socket.io names (the strings disconnect handlers receive, and what
// clients see) come from to_string only.
#pragma once

#include <cstdint>

namespace rollcall::engineio {

enum class CloseReason : std::uint8_t {
  // The Engine.IO connection ended (every socket on it gets the reason).
  transport_close,       // the client closed the connection (or reset it)
  transport_error,       // I/O error, protocol violation, over budget
  ping_timeout,          // no pong within pingInterval + pingTimeout
  parse_error,           // an Engine.IO packet that does not decode
  forced_close,          // a Socket.IO packet that does not decode
  forced_server_close,   // the server closed the connection (disconnect(true))
  server_shutting_down,  // Server::stop()
  // One socket left its namespace; the connection stays (Socket.IO only).
  client_namespace_disconnect,
  server_namespace_disconnect,
};

constexpr const char* to_string(CloseReason r) noexcept {
  switch (r) {
    case CloseReason::transport_close: return "transport close";
    case CloseReason::transport_error: return "transport error";
    case CloseReason::ping_timeout: return "ping timeout";
    case CloseReason::parse_error: return "parse error";
    case CloseReason::forced_close: return "forced close";
    case CloseReason::forced_server_close: return "forced server close";
    case CloseReason::server_shutting_down: return "server shutting down";
    case CloseReason::client_namespace_disconnect: return "client namespace disconnect";
    case CloseReason::server_namespace_disconnect: return "server namespace disconnect";
  }
  return "unknown";
}

}  // namespace rollcall::engineio

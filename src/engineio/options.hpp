// What one Engine.IO endpoint needs to know: heartbeat, transports, sizes
// and budgets, CORS. The composition root (src/server) fills it from the
// public ServerOptions; the layers above Engine.IO keep their own options.
#pragma once

#include <rollcall/server.hpp>

#include <cstddef>

namespace rollcall::engineio {

struct Options {
  Millis ping_interval{25000};
  Millis ping_timeout{20000};
  Millis upgrade_timeout{10000};
  std::size_t max_payload = 1000000;  // one message, one POST body
  bool allow_polling = true;
  bool allow_websocket = true;
  std::size_t max_write_queue_bytes = 4 * 1024 * 1024;
  // Bytes a session may buffer from its client once authenticated: a
  // message and the binary attachments it announces.
  std::size_t max_buffered_in = 11 * 1000000;
  std::size_t max_unauthenticated_bytes = 64 * 1024;
  std::size_t max_unauthenticated_total = 64 * 1024 * 1024;
  CorsOptions cors;

  // The Engine.IO part of a server's options.
  static Options from(const ServerOptions& o) {
    Options e;
    e.ping_interval = o.ping_interval;
    e.ping_timeout = o.ping_timeout;
    e.upgrade_timeout = o.upgrade_timeout;
    e.max_payload = o.max_payload;
    e.allow_polling = o.allow_polling;
    e.allow_websocket = o.allow_websocket;
    e.max_write_queue_bytes = o.max_write_queue_bytes;
    e.max_buffered_in = o.max_payload * (o.max_attachments + 1);
    e.max_unauthenticated_bytes = o.max_unauthenticated_bytes;
    e.max_unauthenticated_total = o.max_unauthenticated_total;
    e.cors = o.cors;
    return e;
  }
};

}  // namespace rollcall::engineio

// Connection settings of a RedisClient or a Subscriber.
#pragma once

#include "redis/reply_parser.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rollcall::redis {

struct RedisConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::string username;  // ACL user (Redis 6+); empty: "AUTH <password>"
  std::string password;  // empty: no AUTH
  int db = 0;            // non-zero: SELECT after connecting
  std::chrono::milliseconds connect_timeout{2000};  // resolve + TCP connect
  std::chrono::milliseconds command_timeout{2000};  // per command, from command() to its reply
  std::size_t max_pending = 10000;                  // commands waiting for a reply (queue bound)
  std::size_t max_reply_bytes = ReplyParser::kDefaultMaxReplyBytes;  // also bounds unparsed input
  // Reconnect backoff after failed connection attempts (backoff.hpp): the
  // delay doubles from `initial` up to `max`, each one jittered by ±20 %.
  // initial == 0 turns the backoff off.
  std::chrono::milliseconds reconnect_backoff_initial{100};
  std::chrono::milliseconds reconnect_backoff_max{5000};
  // Subscriber only: after this long without input it sends a PING, whose
  // reply is due within command_timeout, else the connection is dropped.
  std::chrono::milliseconds ping_interval{5000};

  // redis://[[user]:password@]host[:port][/db]; user and password may be
  // percent-encoded, an IPv6 host is written in brackets. An empty host means
  // 127.0.0.1. rediss:// (TLS) and unix sockets are not supported.
  static std::optional<RedisConfig> from_url(std::string_view url, std::string& error);
};

}  // namespace rollcall::redis

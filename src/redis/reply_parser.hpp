// RESP2 codec on top of hiredis 0.14, used only as a codec: its command
// encoder and its incremental reply reader. No hiredis I/O or contexts.
#pragma once

#include "redis/value.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

struct redisReader;
struct redisReadTask;

namespace rollcall::redis {

// Appends the RESP encoding of `argv` (binary-safe) to `out`. Returns false,
// leaving `out` unchanged, when argv is empty or larger than 512 MiB.
bool encode_command(const std::vector<std::string>& argv, std::string& out);

// Incremental reply parser: feed() what the socket delivered, then call
// next() until it returns false. After an error the parser stays failed (the
// connection must be dropped). Malformed input never crashes: it gives
// RedisError::protocol_error (bad type byte, negative array length, nesting
// deeper than hiredis' 7 levels, ...) or RedisError::reply_too_large.
class ReplyParser {
 public:
  static constexpr std::size_t kDefaultMaxReplyBytes = 64 * 1024 * 1024;

  // `max_reply_bytes` bounds both the unparsed bytes buffered and the memory
  // of the reply being assembled.
  explicit ReplyParser(std::size_t max_reply_bytes = kDefaultMaxReplyBytes);
  ~ReplyParser();
  ReplyParser(const ReplyParser&) = delete;
  ReplyParser& operator=(const ReplyParser&) = delete;

  std::error_code feed(std::string_view bytes);

  // true: `out` holds the next reply. false: more bytes are needed (ec empty)
  // or the input is invalid (ec set).
  bool next(RedisValue& out, std::error_code& ec);

  // Bytes received but not yet consumed by a complete reply item.
  std::size_t buffered() const noexcept;

 private:
  struct ReaderDeleter {
    void operator()(redisReader* r) const noexcept;
  };
  static void* attach(const redisReadTask* task, RedisValue::Type type, std::string_view str) noexcept;
  static void* create_string(const redisReadTask* task, char* str, std::size_t len) noexcept;
  static void* create_array(const redisReadTask* task, int elements) noexcept;
  static void* create_integer(const redisReadTask* task, long long value) noexcept;
  static void* create_nil(const redisReadTask* task) noexcept;
  static void free_object(void* obj) noexcept;

  std::unique_ptr<redisReader, ReaderDeleter> reader_;
  std::size_t max_reply_bytes_;
  std::size_t reply_bytes_ = 0;  // memory of the reply being assembled
  bool too_large_ = false;
  std::error_code error_;        // sticky
};

}  // namespace rollcall::redis

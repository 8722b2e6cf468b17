#include "redis/reply_parser.hpp"
#include "common/c_handle.hpp"

#include "redis/error.hpp"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <algorithm>
#include <climits>
#include <new>

namespace rollcall::redis {

namespace {

constexpr std::size_t kMaxCommandBytes = 512 * 1024 * 1024;

}  // namespace

bool encode_command(const std::vector<std::string>& argv, std::string& out) {
  if (argv.empty() || argv.size() > static_cast<std::size_t>(INT_MAX)) return false;
  std::vector<const char*> ptrs;
  std::vector<std::size_t> lens;
  ptrs.reserve(argv.size());
  lens.reserve(argv.size());
  std::size_t total = 0;
  for (const auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
    total += a.size() + 32;  // generous bound on the per-argument framing
  }
  if (total > kMaxCommandBytes) return false;
  char* raw = nullptr;
  const int len = redisFormatCommandArgv(&raw, static_cast<int>(argv.size()), ptrs.data(), lens.data());
  const CHandle<char, redisFreeCommand> cmd(raw);
  if (len < 0 || cmd == nullptr) return false;
  out.append(cmd.get(), static_cast<std::size_t>(len));
  return true;
}

// Replies are built directly as RedisValue trees through hiredis' object
// callbacks (no redisReply copy). Only a root is heap-allocated; a child lives
// inside its parent's `elements`, which hiredis fills in index order, so the
// reader frees exactly the root (on error and in redisReaderFree).
void* ReplyParser::attach(const redisReadTask* task, RedisValue::Type type, std::string_view str) noexcept {
  auto* self = static_cast<ReplyParser*>(task->privdata);
  self->reply_bytes_ += sizeof(RedisValue) + str.size();
  if (self->reply_bytes_ > self->max_reply_bytes_) {
    self->too_large_ = true;
    return nullptr;
  }
  try {
    RedisValue* v = nullptr;
    if (task->parent == nullptr) {
      v = new RedisValue;
    } else {
      auto* parent = static_cast<RedisValue*>(task->parent->obj);
      if (parent == nullptr || task->idx < 0 ||
          static_cast<std::size_t>(task->idx) != parent->elements.size()) {
        return nullptr;
      }
      v = &parent->elements.emplace_back();
    }
    v->type = type;
    v->str.assign(str.data(), str.size());
    return v;
  } catch (...) {  // std::bad_alloc must not cross the C code
    return nullptr;
  }
}

void* ReplyParser::create_string(const redisReadTask* task, char* str, std::size_t len) noexcept {
  const auto type = task->type == REDIS_REPLY_ERROR    ? RedisValue::Type::error
                    : task->type == REDIS_REPLY_STATUS ? RedisValue::Type::status
                                                       : RedisValue::Type::string;
  return attach(task, type, std::string_view(str, len));
}

void* ReplyParser::create_array(const redisReadTask* task, int elements) noexcept {
  if (elements < 0) return nullptr;  // only -1 (nil) is valid, and hiredis maps it to create_nil
  auto* v = static_cast<RedisValue*>(attach(task, RedisValue::Type::array, {}));
  if (v == nullptr) return nullptr;
  try {
    v->elements.reserve(std::min(elements, 1024));  // the count is untrusted: grow with the data
  } catch (...) {
    if (task->parent == nullptr) delete v;
    return nullptr;
  }
  return v;
}

void* ReplyParser::create_integer(const redisReadTask* task, long long value) noexcept {
  auto* v = static_cast<RedisValue*>(attach(task, RedisValue::Type::integer, {}));
  if (v != nullptr) v->integer = value;
  return v;
}

void* ReplyParser::create_nil(const redisReadTask* task) noexcept {
  return attach(task, RedisValue::Type::nil, {});
}

void ReplyParser::free_object(void* obj) noexcept { delete static_cast<RedisValue*>(obj); }

void ReplyParser::ReaderDeleter::operator()(redisReader* r) const noexcept { redisReaderFree(r); }

namespace {

redisReplyObjectFunctions g_functions;  // filled once below; hiredis wants a non-const pointer

}  // namespace

ReplyParser::ReplyParser(std::size_t max_reply_bytes) : max_reply_bytes_(max_reply_bytes) {
  static const bool init = [] {
    g_functions.createString = &ReplyParser::create_string;
    g_functions.createArray = &ReplyParser::create_array;
    g_functions.createInteger = &ReplyParser::create_integer;
    g_functions.createNil = &ReplyParser::create_nil;
    g_functions.freeObject = &ReplyParser::free_object;
    return true;
  }();
  (void)init;
  reader_.reset(redisReaderCreateWithFunctions(&g_functions));
  if (!reader_) throw std::bad_alloc();
  reader_->privdata = this;
}

ReplyParser::~ReplyParser() = default;

std::error_code ReplyParser::feed(std::string_view bytes) {
  if (error_) return error_;
  if (redisReaderFeed(reader_.get(), bytes.data(), bytes.size()) != REDIS_OK) {
    error_ = reader_->err == REDIS_ERR_OOM ? RedisError::reply_too_large : RedisError::protocol_error;
  }
  return error_;
}

bool ReplyParser::next(RedisValue& out, std::error_code& ec) {
  ec = error_;
  if (error_) return false;
  void* reply = nullptr;
  if (redisReaderGetReply(reader_.get(), &reply) != REDIS_OK) {
    error_ = too_large_ ? RedisError::reply_too_large : RedisError::protocol_error;
    ec = error_;
    return false;
  }
  if (reply == nullptr) {
    if (buffered() > max_reply_bytes_) {
      error_ = RedisError::reply_too_large;
      ec = error_;
    }
    return false;
  }
  std::unique_ptr<RedisValue> root(static_cast<RedisValue*>(reply));
  out = std::move(*root);
  reply_bytes_ = 0;
  return true;
}

std::size_t ReplyParser::buffered() const noexcept {
  return reader_ && reader_->len >= reader_->pos ? reader_->len - reader_->pos : 0;
}

}  // namespace rollcall::redis

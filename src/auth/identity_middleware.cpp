// The identity middleware (include/rollcall/auth.hpp), built on the public
// API only: Socket::set_user, and the socket's loop (rollcall/asio.hpp)
// for the Redis lookup of a session.
#include <rollcall/asio.hpp>
#include <rollcall/auth.hpp>

#include "auth/jwt.hpp"
#include "auth/session_cookie.hpp"
#include "redis/redis_client.hpp"

#include <spdlog/spdlog.h>

#include <ctime>
#include <memory>
#include <mutex>
#include <utility>

namespace rollcall::auth {

namespace {

User to_user(Identity id) {
  User u;
  u.id = std::move(id.user);
  u.name = std::move(id.name);
  for (auto& o : id.orgs) u.orgs.push_back(rollcall::OrgRole{std::move(o.id), std::move(o.role)});
  return u;
}

ConnectError auth_error(std::string message, const char* code) {
  boost::json::object data;
  data["code"] = code;
  return ConnectError{std::move(message), std::move(data)};
}

// What the Redis callbacks need (not the clients: they own the callbacks).
struct SessionSettings {
  SessionOptions options;
  redis::RedisConfig redis;
};

class IdentityCheck {
 public:
  explicit IdentityCheck(IdentityOptions options) : allow_anonymous_(options.allow_anonymous) {
    if (options.jwt) {
      const auto& j = *options.jwt;
      JwtConfig jc;
      jc.alg = j.algorithm == JwtAlgorithm::rs256 ? JwtAlg::rs256 : JwtAlg::hs256;
      jc.secret = j.secret;
      jc.public_key_pem = j.public_key_pem;
      jc.leeway = j.leeway;
      jc.issuer = j.issuer;
      jc.audience = j.audience;
      std::string error;
      jwt_ = JwtVerifier::create(jc, error);
      if (!jwt_) throw OptionsError("jwt", error);
    }
    if (options.session) {
      if (options.session->secrets.empty()) throw OptionsError("session.secrets", "no secret given");
      std::string error;
      auto redis = redis::RedisConfig::from_url(options.session->redis_url, error);
      if (!redis) throw OptionsError("session.redis_url", error);
      session_ = std::make_shared<const SessionSettings>(
          SessionSettings{std::move(*options.session), std::move(*redis)});
    }
  }

  // A JWT (CONNECT auth `token` or an Authorization: Bearer header), else
  // an express-session cookie.
  void check(Socket& socket, Next next) {
    const auto& hs = socket.handshake();
    if (spdlog::should_log(spdlog::level::trace)) {
      for (const auto& [name, value] : hs.headers.all()) spdlog::trace("handshake header {}", name);
    }
    if (jwt_) {
      std::string token;
      if (auto* t = socket.auth().if_contains("token"); t && t->is_string()) token = t->as_string();
      if (token.empty()) {
        if (auto h = hs.headers.get("authorization")) {
          std::string_view v = *h;
          if (v.size() > 7 && (v.starts_with("Bearer ") || v.starts_with("bearer "))) {
            token = std::string(v.substr(7));
          }
        }
      }
      if (!token.empty()) {
        Identity id;
        auto now = static_cast<std::int64_t>(std::time(nullptr));
        if (auto ec = jwt_->verify(token, id, now)) {
          spdlog::debug("auth: token refused: {}", ec.message());
          return next(auth_error("authentication failed: " + ec.message(), "invalid_token"));
        }
        socket.set_user(to_user(std::move(id)));
        return next(std::nullopt);
      }
    }
    if (session_) {
      std::optional<std::string> cookie;
      if (auto cookie_header = hs.headers.get("cookie")) {
        cookie = find_cookie(*cookie_header, session_->options.cookie);
      }
      if (cookie) return check_session(socket, *cookie, std::move(next));
    }
    if ((!jwt_ && !session_) || allow_anonymous_) return next(std::nullopt);
    next(auth_error("authentication required: send a token in the CONNECT auth payload, an "
                    "Authorization header or a session cookie",
                    "auth_required"));
  }

 private:
  void check_session(Socket& socket, const std::string& cookie, Next next) {
    auto sid = unsign_cookie(cookie, session_->options.secrets);
    if (!sid) return next(auth_error("authentication failed: invalid session cookie signature",
                                     "invalid_session"));
    auto client = redis_client(socket);
    std::vector<std::string> argv{"GET", session_->options.prefix + *sid};
    client->command(std::move(argv), [session = session_, weak = socket.weak(), next](
                                         std::error_code ec, redis::RedisValue v) {
      auto s = weak.lock();
      if (!s) return;
      if (ec || v.type == redis::RedisValue::Type::error) {
        spdlog::warn("auth: session store unavailable: {}", ec ? ec.message() : v.str);
        return next(auth_error("authentication failed: session store unavailable",
                               "session_store_unavailable"));
      }
      if (v.type != redis::RedisValue::Type::string) {
        return next(auth_error("authentication failed: session not found or expired",
                               "invalid_session"));
      }
      auto user = session_user(v.str, session->options.user_field);
      if (!user) {
        return next(auth_error("authentication failed: the session has no '" +
                                   session->options.user_field + "'",
                               "invalid_session"));
      }
      s->set_user(User{*user, {}, {}});
      next(std::nullopt);
    });
  }

  // The Redis connection of the socket's loop, created there on first use.
  // Only that loop's thread uses it; the lock guards the vector only.
  std::shared_ptr<redis::RedisClient> redis_client(Socket& socket) {
    const unsigned loop = socket.loop_index();
    std::lock_guard lock(redis_mutex_);
    if (redis_.size() <= loop) redis_.resize(loop + 1);
    auto& client = redis_[loop];
    if (!client) client = redis::RedisClient::create(executor(socket), session_->redis);
    return client;
  }

  bool allow_anonymous_;
  std::unique_ptr<JwtVerifier> jwt_;  // immutable after construction: shared by all loops
  std::shared_ptr<const SessionSettings> session_;
  std::mutex redis_mutex_;
  std::vector<std::shared_ptr<redis::RedisClient>> redis_;  // by loop index
};

}  // namespace

Middleware identity_middleware(IdentityOptions options) {
  auto check = std::make_shared<IdentityCheck>(std::move(options));
  return [check](Socket& socket, Next next) { check->check(socket, std::move(next)); };
}

}  // namespace rollcall::auth

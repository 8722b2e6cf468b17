// Engine.IO's rules for an HTTP request to an endpoint (transport.hpp): Node's
// error bodies, CORS, and the decisions the HTTP front end carries out.
#include "engineio/transport.hpp"

#include "engineio/loop.hpp"
#include "engineio/packet.hpp"
#include "engineio/session.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace rollcall::engineio {

const char* message(HttpError e) noexcept {
  switch (e) {
    case HttpError::unknown_transport: return "Transport unknown";
    case HttpError::unknown_sid: return "Session ID unknown";
    case HttpError::bad_handshake_method: return "Bad handshake method";
    case HttpError::bad_request: return "Bad request";
    case HttpError::forbidden: return "Forbidden";
    case HttpError::unsupported_protocol_version: return "Unsupported protocol version";
  }
  return "Bad request";
}

std::string error_body(HttpError e) {
  boost::json::object o;
  o["code"] = static_cast<int>(e);
  o["message"] = message(e);
  return boost::json::serialize(o);
}

const Engine* find_engine(const std::vector<std::unique_ptr<Engine>>& engines, std::string_view path) {
  for (const auto& e : engines) {
    std::string_view p = e->path;
    if (path.substr(0, p.size()) == p) return e.get();
    if (!p.empty() && p.back() == '/' && path == p.substr(0, p.size() - 1)) return e.get();
  }
  return nullptr;
}

std::string allowed_origin(const CorsOptions& cors, std::string_view origin) {
  if (cors.origins.empty()) return {};
  for (const auto& o : cors.origins) {
    if (o == "*") {
      // With credentials the origin must be echoed, never "*".
      if (cors.credentials && !origin.empty()) return std::string(origin);
      return "*";
    }
    if (o == origin) return std::string(origin);
  }
  return {};
}

namespace {

// The replies to one request: each carries its CORS headers.
struct Replies {
  const CorsOptions& cors;
  std::string origin;  // for Access-Control-Allow-Origin, or empty

  Reply reply(int status, std::string_view content_type, std::string body) const {
    Reply r{status, content_type, std::move(body), {}, {}};
    if (!origin.empty()) {
      r.headers.push_back({"Access-Control-Allow-Origin", origin});
      if (cors.credentials) r.headers.push_back({"Access-Control-Allow-Credentials", "true"});
      if (origin != "*") r.headers.push_back({"Vary", "Origin"});
    }
    return r;
  }
  Decision answer(int status, std::string_view content_type, std::string body) const {
    return Decision{Decision::Kind::reply, reply(status, content_type, std::move(body)), nullptr, {}};
  }
  Decision error(HttpError e, Decision::Kind kind = Decision::Kind::reply) const {
    return Decision{kind, reply(e == HttpError::forbidden ? 403 : 400, "application/json", error_body(e)),
                    nullptr, {}};
  }
};

}  // namespace

bool opens_websocket(const Engine& engine, const TransportRequest& req) {
  return req.method == Method::get && req.websocket_upgrade && req.sid.empty() && req.eio == "4" &&
         req.transport == "websocket" && engine.options.allow_websocket && req.websocket_key;
}

Decision decide(Loop& loop, const Engine& engine, const TransportRequest& req,
                const MakeHandshake& handshake) {
  const auto& opts = engine.options;
  const Replies x{opts.cors, allowed_origin(opts.cors, req.origin)};

  if (req.method == Method::options) {
    Decision d = x.answer(204, "text/plain", {});
    if (!x.origin.empty()) {
      d.reply.preflight.push_back({"Access-Control-Allow-Methods", "GET,POST"});
      if (req.request_headers) {
        d.reply.preflight.push_back({"Access-Control-Allow-Headers", std::string(*req.request_headers)});
      }
      d.reply.preflight.push_back({"Access-Control-Max-Age", "86400"});
    }
    return d;
  }
  if (req.eio != "4") return x.error(HttpError::unsupported_protocol_version);
  bool want_ws = req.transport == "websocket";
  bool want_polling = req.transport == "polling";
  if ((!want_ws && !want_polling) || (want_ws && !opts.allow_websocket) ||
      (want_polling && !opts.allow_polling)) {
    return x.error(HttpError::unknown_transport);
  }
  if (want_ws != req.websocket_upgrade) return x.error(HttpError::bad_request);

  if (req.sid.empty()) {
    if (req.method != Method::get) return x.error(HttpError::bad_handshake_method);
    if (want_polling) {
      auto session = std::make_shared<Session>(loop, engine, make_id(static_cast<std::uint8_t>(loop.index)),
                                               false, handshake());
      std::string open = session->open_packet();
      session->start();
      return x.answer(200, "text/plain; charset=UTF-8", std::move(open));
    }
    // A WebSocket handshake that cannot be accepted is answered, then closed.
    if (!req.websocket_key) return x.error(HttpError::bad_request, Decision::Kind::refuse);
    return Decision{Decision::Kind::open_websocket, {}, nullptr, *req.websocket_key};
  }

  auto it = loop.sessions.find(req.sid);
  if (it != loop.sessions.end() && it->second->close_if_overdue()) {
    it = loop.sessions.find(req.sid);
  }
  // A closed session still registered waits only for a long-poll GET that
  // was on its way (Session::poll_get); for anything else it is gone.
  bool long_poll = want_polling && req.method == Method::get;
  if (it == loop.sessions.end() || (it->second->closed() && !long_poll)) {
    return x.error(HttpError::unknown_sid);
  }
  auto session = it->second;
  if (want_ws) {
    if (!req.websocket_key) return x.error(HttpError::bad_request, Decision::Kind::refuse);
    return Decision{Decision::Kind::upgrade, {}, std::move(session), *req.websocket_key};
  }
  session->read_probe();
  if (session->websocket()) return x.error(HttpError::bad_request);

  if (req.method == Method::get) {
    return Decision{Decision::Kind::long_poll, x.reply(200, {}, {}), std::move(session), {}};
  }
  if (req.method == Method::post) {
    if (req.content_type.starts_with("application/octet-stream")) {
      session->close(CloseReason::transport_error);
      return x.error(HttpError::bad_request);
    }
    int status = session->poll_post(req.body);
    if (status != 200) return x.error(HttpError::bad_request);
    return x.answer(200, "text/html", "ok");
  }
  return x.error(HttpError::bad_request);
}

void finish_poll(Reply& reply, int status, std::string body) {
  reply.status = status;
  reply.content_type = status != 200 ? "application/json" : "text/plain; charset=UTF-8";
  reply.body = std::move(body);
}

Reply payload_too_large(Loop& loop, std::string_view sid, bool& closed) {
  closed = false;
  auto it = sid.empty() ? loop.sessions.end() : loop.sessions.find(sid);
  if (it != loop.sessions.end()) {
    it->second->close(CloseReason::transport_error);
    closed = true;
  }
  return Reply{413, "application/json", R"({"code":3,"message":"Payload too large"})", {}, {}};
}

}  // namespace rollcall::engineio

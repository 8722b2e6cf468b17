#include "server/http_server.hpp"
#include "common/clock.hpp"

#include "engineio/packet.hpp"
#include "engineio/session.hpp"
#include "server/loop.hpp"
#include "server/ws_connection.hpp"
#include "ws/frame.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>
#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <optional>

namespace rollcall {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using engineio::HttpError;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr std::size_t kHeaderLimit = 16 * 1024;
constexpr std::size_t kDefaultBodyLimit = 64 * 1024;

using Parser = http::request_parser<http::string_body>;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// True if the comma-separated header value contains `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    auto comma = value.find(',');
    auto part = value.substr(0, comma);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
    while (!part.empty() && (part.back() == ' ' || part.back() == '\t')) part.remove_suffix(1);
    if (iequals(part, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

struct Query {
  std::string eio, transport, sid;
  std::map<std::string, std::string> all;
  std::string path;
};

std::optional<Query> parse_target(std::string_view target) {
  auto r = boost::urls::parse_origin_form(target);
  if (!r) return std::nullopt;
  Query q;
  q.path = std::string(r->path());
  for (auto param : r->params()) {
    std::string key = param.key;
    std::string value = param.has_value ? std::string(param.value) : std::string();
    if (key == "EIO") q.eio = value;
    else if (key == "transport") q.transport = value;
    else if (key == "sid") q.sid = value;
    q.all.emplace(std::move(key), std::move(value));
  }
  return q;
}

}  // namespace

struct HttpServer::State : std::enable_shared_from_this<HttpServer::State> {
  State(std::vector<std::unique_ptr<Loop>>& l, std::vector<std::unique_ptr<engineio::Engine>>& e,
        Routes& r)
      : loops(l), engines(e), routes(r), acceptor(l.front()->ioc) {}

  std::vector<std::unique_ptr<Loop>>& loops;
  std::vector<std::unique_ptr<engineio::Engine>>& engines;
  Routes& routes;
  tcp::acceptor acceptor;
  std::atomic<std::uint16_t> port{0};
  std::size_t next_loop = 0;

  const engineio::Engine* match(std::string_view path) const {
    for (const auto& e : engines) {
      std::string_view p = e->path;
      if (path.substr(0, p.size()) == p) return e.get();
      if (!p.empty() && p.back() == '/' && path == p.substr(0, p.size() - 1)) return e.get();
    }
    return nullptr;
  }

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> connection(Loop& loop, tcp::socket socket, beast::flat_buffer buffer,
                                   std::unique_ptr<Parser> pending);
};

namespace {

// Per-request context for the Engine.IO handlers.
struct Exchange {
  Loop& loop;
  const engineio::Engine& engine;
  beast::tcp_stream& stream;
  beast::flat_buffer& buffer;
  Request& req;
  Query& query;
  std::string cors_origin;  // value for Access-Control-Allow-Origin, or empty

  Response response(http::status status, std::string_view content_type, std::string body) const {
    Response res{status, req.version()};
    res.set(http::field::content_type, content_type);
    if (!cors_origin.empty()) {
      res.set(http::field::access_control_allow_origin, cors_origin);
      if (engine.options.cors.credentials) {
        res.set(http::field::access_control_allow_credentials, "true");
      }
      if (cors_origin != "*") res.set(http::field::vary, "Origin");
    }
    res.body() = std::move(body);
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return res;
  }
  Response error(HttpError e) const {
    return response(e == HttpError::forbidden ? http::status::forbidden : http::status::bad_request,
                    "application/json", engineio::error_body(e));
  }
};

std::string allowed_origin(const engineio::Engine& engine, const Request& req) {
  const auto& cors = engine.options.cors;
  if (cors.origins.empty()) return {};
  auto it = req.find(http::field::origin);
  std::string_view origin;
  if (it != req.end()) origin = std::string_view(it->value().data(), it->value().size());
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

std::shared_ptr<const Handshake> make_handshake(const Request& req, const Query& q,
                                                const tcp::socket& socket) {
  auto hs = std::make_shared<Handshake>();
  std::size_t bytes = 0, count = 0;
  for (const auto& f : req) bytes += f.name_string().size() + f.value().size(), ++count;
  hs->headers.reserve(bytes, count);  // exact: kept as long as the session
  bytes = count = 0;
  for (const auto& [k, v] : q.all) bytes += k.size() + v.size(), ++count;
  hs->query.reserve(bytes, count);
  for (const auto& f : req) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    hs->headers.add(name, f.value());
  }
  for (const auto& [k, v] : q.all) hs->query.add(k, v);
  boost::system::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (!ec) hs->address = ep.address().to_string();
  hs->url = std::string(req.target());
  hs->issued = unix_ms();
  hs->xdomain = req.find(http::field::origin) != req.end();
  return hs;
}

bool is_websocket_upgrade(const Request& req) {
  auto up = req.find(http::field::upgrade);
  auto conn = req.find(http::field::connection);
  return req.method() == http::verb::get && up != req.end() && conn != req.end() &&
         has_token(up->value(), "websocket") && has_token(conn->value(), "upgrade");
}

// Completes the WebSocket handshake and returns the raw socket, or nullopt.
// A WebSocket upgrade that passed the checks: the socket, and the 101
// response, which goes out as the first bytes of the connection's first
// write (together with the open packet: one write instead of two).
struct Upgrade {
  tcp::socket socket;
  Frame response;
};

asio::awaitable<std::optional<Upgrade>> accept_websocket(Exchange& x) {
  auto key = x.req.find(http::field::sec_websocket_key);
  auto version = x.req.find(http::field::sec_websocket_version);
  if (key == x.req.end() || version == x.req.end() || version->value() != "13") {
    auto res = x.error(HttpError::bad_request);
    co_await http::async_write(x.stream, res, tuple_awaitable);
    co_return std::nullopt;
  }
  auto head = std::make_shared<std::string>(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: " +
      ws::accept_key(key->value()) + "\r\n\r\n");
  x.stream.expires_never();
  co_return Upgrade{x.stream.release_socket(), Frame{std::move(head), 0, 0, false}};
}

std::string_view leftover(beast::flat_buffer& buffer) {
  auto d = buffer.data();
  return std::string_view(static_cast<const char*>(d.data()), d.size());
}

struct PollWait {
  explicit PollWait(asio::any_io_executor ex) : timer(ex, asio::steady_timer::time_point::max()) {}
  asio::steady_timer timer;
  std::optional<std::pair<int, std::string>> result;
};

// Returns true to keep the connection open, false to close it. Sets `moved`
// when the socket was handed to a WebSocket connection.
asio::awaitable<bool> serve_engine(Exchange& x, bool& moved) {
  auto& req = x.req;
  const auto& opts = x.engine.options;
  auto send = [&](Response res) -> asio::awaitable<bool> {
    x.stream.expires_after(kIdleTimeout);
    auto [ec, n] = co_await http::async_write(x.stream, res, tuple_awaitable);
    (void)n;
    co_return !ec && res.keep_alive();
  };

  if (req.method() == http::verb::options) {
    Response res = x.response(http::status::no_content, "text/plain", {});
    if (!x.cors_origin.empty()) {
      res.set(http::field::access_control_allow_methods, "GET,POST");
      auto h = req.find(http::field::access_control_request_headers);
      if (h != req.end()) res.set(http::field::access_control_allow_headers, h->value());
      res.set(http::field::access_control_max_age, "86400");
    }
    co_return co_await send(std::move(res));
  }
  if (x.query.eio != "4") co_return co_await send(x.error(HttpError::unsupported_protocol_version));
  bool want_ws = x.query.transport == "websocket";
  bool want_polling = x.query.transport == "polling";
  if ((!want_ws && !want_polling) || (want_ws && !opts.allow_websocket) ||
      (want_polling && !opts.allow_polling)) {
    co_return co_await send(x.error(HttpError::unknown_transport));
  }
  bool upgrade = is_websocket_upgrade(req);
  if (want_ws != upgrade) co_return co_await send(x.error(HttpError::bad_request));

  if (x.query.sid.empty()) {
    if (req.method() != http::verb::get) {
      co_return co_await send(x.error(HttpError::bad_handshake_method));
    }
    auto handshake = make_handshake(req, x.query, x.stream.socket());
    auto sid = engineio::make_id(static_cast<std::uint8_t>(x.loop.index));
    if (want_polling) {
      auto session = std::make_shared<engineio::Session>(x.loop, x.engine, std::move(sid), false,
                                                         std::move(handshake));
      std::string open = session->open_packet();
      session->start();
      co_return co_await send(x.response(http::status::ok, "text/plain; charset=UTF-8", open));
    }
    auto upgrade = co_await accept_websocket(x);
    if (!upgrade) co_return false;
    moved = true;
    auto session = std::make_shared<engineio::Session>(x.loop, x.engine, std::move(sid), true,
                                                       std::move(handshake));
    auto conn = std::make_shared<WsConnection>(x.loop, std::move(upgrade->socket), opts.max_payload);
    conn->send(upgrade->response);
    session->attach_websocket(conn);
    conn->send(make_text_frame('0', std::string_view(session->open_packet()).substr(1)));
    session->start();
    conn->start(session, leftover(x.buffer));
    co_return false;
  }

  auto it = x.loop.sessions.find(x.query.sid);
  if (it == x.loop.sessions.end() || (it->second->closed() && req.method() != http::verb::get)) {
    co_return co_await send(x.error(HttpError::unknown_sid));
  }
  auto session = it->second;
  if (want_ws) {
    if (session->websocket() || session->upgrading() || session->closed()) {
      co_return co_await send(x.error(HttpError::bad_request));
    }
    auto upgrade = co_await accept_websocket(x);
    if (!upgrade) co_return false;
    moved = true;
    auto conn = std::make_shared<WsConnection>(x.loop, std::move(upgrade->socket), opts.max_payload);
    conn->send(upgrade->response);
    if (!session->begin_upgrade(conn)) {
      conn->start(nullptr, {});
      conn->close();
      co_return false;
    }
    conn->start(session, leftover(x.buffer));
    co_return false;
  }
  if (session->websocket()) co_return co_await send(x.error(HttpError::bad_request));

  if (req.method() == http::verb::get) {
    auto wait = std::make_shared<PollWait>(x.stream.get_executor());
    session->poll_get([wait](int status, std::string body) {
      wait->result.emplace(status, std::move(body));
      wait->timer.cancel();
    });
    while (!wait->result) {
      // Wait for the session to answer, and notice a client that goes away.
      auto& sock = x.stream.socket();
      auto which = co_await (wait->timer.async_wait(tuple_awaitable) ||
                             sock.async_wait(tcp::socket::wait_read, tuple_awaitable));
      if (wait->result) break;
      if (which.index() == 1) {
        auto [ec] = std::get<1>(which);
        char c;
        ssize_t r = ec ? 0 : ::recv(sock.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (ec || r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
          session->poll_aborted();
          co_return false;
        }
        // Pipelined bytes: keep waiting on the timer alone.
        co_await wait->timer.async_wait(tuple_awaitable);
      }
    }
    auto [status, body] = std::move(*wait->result);
    if (status != 200) {
      co_return co_await send(x.response(static_cast<http::status>(status), "application/json",
                                         std::move(body)));
    }
    co_return co_await send(x.response(http::status::ok, "text/plain; charset=UTF-8",
                                       std::move(body)));
  }
  if (req.method() == http::verb::post) {
    auto ct = req.find(http::field::content_type);
    if (ct != req.end() && ct->value().starts_with("application/octet-stream")) {
      session->close("transport error");
      co_return co_await send(x.error(HttpError::bad_request));
    }
    int status = session->poll_post(req.body());
    if (status != 200) co_return co_await send(x.error(HttpError::bad_request));
    co_return co_await send(x.response(http::status::ok, "text/html", "ok"));
  }
  co_return co_await send(x.error(HttpError::bad_request));
}

// Application routes (Server::add_http_route); 404 when none matches.
Response serve_route(const HttpServer::Routes& routes, const Request& req,
                     const std::optional<Query>& query) {
  Response res{http::status::not_found, req.version()};
  res.set(http::field::content_type, "application/json");
  res.body() = R"({"error":"not found"})";
  if (!query) return res;
  for (const auto& [prefix, handler] : routes) {
    if (!query->path.starts_with(prefix)) continue;
    HttpRequest r;
    r.method = std::string(req.method_string());
    r.path = query->path;
    r.query = query->all;
    for (const auto& f : req) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(f.value());
    }
    r.body = req.body();
    try {
      HttpResponse out = handler(r);
      res.result(static_cast<unsigned>(out.status));
      res.set(http::field::content_type, out.content_type);
      res.body() = std::move(out.body);
    } catch (const std::exception& e) {
      spdlog::error("http {} {}: handler threw: {}", r.method, r.path, e.what());
      res.result(http::status::internal_server_error);
      res.body() = R"({"error":"internal error"})";
    }
    return res;
  }
  return res;
}

}  // namespace

asio::awaitable<void> HttpServer::State::connection(Loop& loop, tcp::socket socket,
                                                    beast::flat_buffer buffer,
                                                    std::unique_ptr<Parser> pending) {
  beast::tcp_stream stream(std::move(socket));
  for (;;) {
    std::unique_ptr<Parser> parser = std::move(pending);
    if (!parser) {
      parser = std::make_unique<Parser>();
      parser->header_limit(kHeaderLimit);
      stream.expires_after(kIdleTimeout);
      auto [ec, n] = co_await http::async_read_header(stream, buffer, *parser, tuple_awaitable);
      (void)n;
      if (ec) co_return;  // closed, idle timeout, or a malformed request
    }
    auto& head = parser->get();
    auto query = parse_target(head.target());
    const engineio::Engine* engine = query ? match(query->path) : nullptr;

    // Requests for an existing session run on the loop that owns it: move
    // the connection there (socket, buffered bytes and parsed header).
    if (engine && !query->sid.empty()) {
      auto tag = engineio::id_tag(query->sid);
      if (tag && *tag < loops.size() && *tag != loop.index) {
        Loop& owner = *loops[*tag];
        tcp::socket raw = stream.release_socket();
        auto protocol = raw.local_endpoint().protocol();
        int fd = raw.release();
        asio::post(owner.ioc, [self = shared_from_this(), &owner, protocol, fd,
                               buf = std::move(buffer), p = std::move(parser)]() mutable {
          tcp::socket s(owner.ioc, protocol, fd);
          asio::co_spawn(owner.ioc,
                         self->connection(owner, std::move(s), std::move(buf), std::move(p)),
                         asio::detached);
        });
        co_return;
      }
    }

    std::size_t limit = engine ? engine->options.max_payload : kDefaultBodyLimit;
    bool too_big = head.has_content_length() && parser->content_length() &&
                   *parser->content_length() > limit;
    if (!too_big && !parser->is_done()) {
      parser->body_limit(limit);
      stream.expires_after(kIdleTimeout);
      auto [ec, n] = co_await http::async_read(stream, buffer, *parser, tuple_awaitable);
      (void)n;
      if (ec == http::error::body_limit) {
        too_big = true;
      } else if (ec) {
        co_return;
      }
    }
    Request req = parser->release();
    if (too_big) {
      // Node answers 413; the session's data is lost, so close it too.
      if (engine && query && !query->sid.empty()) {
        auto it = loop.sessions.find(query->sid);
        if (it != loop.sessions.end()) {
          spdlog::info("session {}: POST body above maxPayload ({} bytes)", query->sid, limit);
          it->second->close("transport error");
        }
      }
      Response res{http::status::payload_too_large, req.version()};
      res.set(http::field::content_type, "application/json");
      res.body() = R"({"code":3,"message":"Payload too large"})";
      res.keep_alive(false);
      res.prepare_payload();
      stream.expires_after(kIdleTimeout);
      co_await http::async_write(stream, res, tuple_awaitable);
      co_return;
    }
    if (!engine) {
      Response res = serve_route(routes, req, query);
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      stream.expires_after(kIdleTimeout);
      auto [ec, n] = co_await http::async_write(stream, res, tuple_awaitable);
      (void)n;
      if (ec || !req.keep_alive()) co_return;
      continue;
    }
    Exchange x{loop, *engine, stream, buffer, req, *query, allowed_origin(*engine, req)};
    bool moved = false;
    bool keep = co_await serve_engine(x, moved);
    if (moved || !keep) {
      if (!moved) {
        boost::system::error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
      }
      co_return;
    }
  }
}

asio::awaitable<void> HttpServer::State::accept_loop() {
  auto self = shared_from_this();
  for (;;) {
    Loop& target = *loops[next_loop];
    next_loop = (next_loop + 1) % loops.size();
    auto [ec, socket] = co_await acceptor.async_accept(target.ioc, tuple_awaitable);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // EMFILE and friends: back off instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer t(acceptor.get_executor(), std::chrono::milliseconds(100));
      co_await t.async_wait(tuple_awaitable);
      continue;
    }
    asio::post(target.ioc, [self, &target, s = std::move(socket)]() mutable {
      asio::co_spawn(target.ioc,
                     self->connection(target, std::move(s), beast::flat_buffer{}, nullptr),
                     asio::detached);
    });
  }
}

HttpServer::HttpServer(std::vector<std::unique_ptr<Loop>>& loops,
                       std::vector<std::unique_ptr<engineio::Engine>>& engines, Routes& routes)
    : state_(std::make_shared<State>(loops, engines, routes)) {}

HttpServer::~HttpServer() = default;

void HttpServer::listen(const std::string& host, std::uint16_t port) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) throw std::system_error(ec, "bad listen address '" + host + "'");
  tcp::endpoint ep(address, port);
  auto& acc = state_->acceptor;
  acc.open(ep.protocol());
  acc.set_option(asio::socket_base::reuse_address(true));
  acc.bind(ep, ec);
  if (ec) throw std::system_error(ec, "cannot listen on " + host + ":" + std::to_string(port));
  // Wake the acceptor only once the client's first bytes (its HTTP request)
  // are there: accepting and reading the request then share one wake-up.
  // Every Engine.IO client speaks first; a connection that sends nothing is
  // still accepted after a few seconds (and then times out as before).
  acc.set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_DEFER_ACCEPT>(3), ec);
  if (ec) spdlog::debug("TCP_DEFER_ACCEPT: {}", ec.message());
  acc.listen(asio::socket_base::max_listen_connections);
  state_->port = acc.local_endpoint().port();
  asio::co_spawn(acc.get_executor(), state_->accept_loop(), asio::detached);
}

std::uint16_t HttpServer::port() const noexcept { return state_->port; }

void HttpServer::stop_accepting() {
  asio::post(state_->acceptor.get_executor(), [s = state_] {
    boost::system::error_code ec;
    s->acceptor.close(ec);
  });
}

}  // namespace rollcall

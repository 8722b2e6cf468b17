// rollcall-loadgen: a Socket.IO v5 / Engine.IO v4 load generator.
//
// One process, one thread, one epoll loop, non-blocking sockets: a
// connection costs a small struct and its kernel socket, so one process
// drives thousands of clients and the CPU that is measured is the server's.
// It speaks WebSocket (RFC 6455 client side, masked frames) and, for the
// polling-echo scenario, plain HTTP/1.1 long-polling. Only loopback
// addresses (127.0.0.0/8) are accepted. Every wait has a deadline and the
// run always ends by itself. See bench/README.md ("## rollcall-loadgen").
//
// stdout carries only the phase lines and the final result line:
//   phase connected <n>
//   phase measure-start
//   phase measure-end
//   result {...}
// Diagnostics go to stderr.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace {

using u64 = std::uint64_t;
using u32 = std::uint32_t;

constexpr u64 kMs = 1'000'000ULL;
constexpr u64 kSec = 1'000'000'000ULL;
constexpr u64 kConnectTimeout = 10 * kSec;    // TCP connect -> Socket.IO CONNECT ack
constexpr u64 kCloseTimeout = 5 * kSec;       // our close frame -> server EOF
constexpr u64 kEmitTimeout = 5 * kSec;        // closed-loop bcast: give up on missing deliveries
constexpr u64 kHardSlack = 30 * kSec;         // run ends at ramp + warmup + duration + 30 s at the latest
constexpr std::size_t kMaxMessage = 16u << 20;  // largest server frame / HTTP body accepted
constexpr std::size_t kMaxOutQueue = 4u << 20;  // paced sender: skip emits above this backlog

u64 now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<u64>(ts.tv_sec) * kSec + static_cast<u64>(ts.tv_nsec);
}

volatile sig_atomic_t g_stop_signal = 0;
extern "C" void on_signal(int sig) { g_stop_signal = sig; }

// ---------------------------------------------------------------------------
// Log-linear histogram: exact below 128, then 64 sub-buckets per power of
// two (relative error < 1.6 %); fixed memory whatever the sample count.

class Histogram {
 public:
  void record(u64 v) {
    ++counts_[index(v)];
    ++n_;
    if (v > max_) max_ = v;
  }
  u64 count() const { return n_; }
  u64 max() const { return max_; }
  // p in [0, 100]; returns the representative value of the bucket.
  double percentile(double p) const {
    if (n_ == 0) return 0;
    u64 rank = static_cast<u64>(std::ceil(p / 100.0 * static_cast<double>(n_)));
    if (rank == 0) rank = 1;
    u64 acc = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      acc += counts_[i];
      if (acc >= rank) return std::min(static_cast<double>(max_), value(i));
    }
    return static_cast<double>(max_);
  }

 private:
  static constexpr int kSubBits = 6;
  static constexpr u64 kSub = 1ULL << kSubBits;
  static constexpr std::size_t kBuckets = 64 * 59 + 1;
  static std::size_t index(u64 v) {
    if (v < 2 * kSub) return static_cast<std::size_t>(v);
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - kSubBits;
    return static_cast<std::size_t>(shift) * kSub + static_cast<std::size_t>(v >> shift);
  }
  static double value(std::size_t i) {
    if (i < 2 * kSub) return static_cast<double>(i);
    u64 shift = i / kSub - 1;
    u64 m = i - shift * kSub;
    double lo = static_cast<double>(m << shift);
    double hi = static_cast<double>(((m + 1) << shift) - 1);
    return (lo + hi) / 2;
  }
  u64 counts_[kBuckets] = {};
  u64 n_ = 0;
  u64 max_ = 0;
};

// ---------------------------------------------------------------------------
// SHA-1 and base64, only for Sec-WebSocket-Key / Sec-WebSocket-Accept.

void sha1(const unsigned char* data, std::size_t len, unsigned char out[20]) {
  u32 h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  auto rol = [](u32 x, int n) { return (x << n) | (x >> (32 - n)); };
  std::vector<unsigned char> msg(data, data + len);
  msg.push_back(0x80);
  while (msg.size() % 64 != 56) msg.push_back(0);
  u64 bits = static_cast<u64>(len) * 8;
  for (int i = 7; i >= 0; --i) msg.push_back(static_cast<unsigned char>(bits >> (i * 8)));
  for (std::size_t off = 0; off < msg.size(); off += 64) {
    u32 w[80];
    for (int i = 0; i < 16; ++i)
      w[i] = (u32{msg[off + 4 * i]} << 24) | (u32{msg[off + 4 * i + 1]} << 16) |
             (u32{msg[off + 4 * i + 2]} << 8) | u32{msg[off + 4 * i + 3]};
    for (int i = 16; i < 80; ++i) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    u32 a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      u32 f, k;
      if (i < 20) f = (b & c) | (~b & d), k = 0x5A827999;
      else if (i < 40) f = b ^ c ^ d, k = 0x6ED9EBA1;
      else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
      else f = b ^ c ^ d, k = 0xCA62C1D6;
      u32 t = rol(a, 5) + f + e + k + w[i];
      e = d, d = c, c = rol(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
  }
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 4; ++j) out[4 * i + j] = static_cast<unsigned char>(h[i] >> (24 - 8 * j));
}

std::string base64(const unsigned char* p, std::size_t n) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < n; i += 3) {
    u32 v = u32{p[i]} << 16;
    if (i + 1 < n) v |= u32{p[i + 1]} << 8;
    if (i + 2 < n) v |= p[i + 2];
    out += tbl[(v >> 18) & 63];
    out += tbl[(v >> 12) & 63];
    out += i + 1 < n ? tbl[(v >> 6) & 63] : '=';
    out += i + 2 < n ? tbl[v & 63] : '=';
  }
  return out;
}

u64 g_rng = 0x9E3779B97F4A7C15ULL;
u64 rnd() {  // xorshift64*
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return g_rng * 2685821657736338717ULL;
}

bool ieq_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// ---------------------------------------------------------------------------
// Options

enum class Scenario { Idle, Broadcast, Echo, Churn, PollingEcho };

struct Options {
  std::string host = "127.0.0.1";
  in_addr host_addr{};
  int port = 0;
  std::string path = "/socket.io/";
  Scenario scenario = Scenario::Idle;
  std::string scenario_name = "idle";
  u32 clients = 100;
  double rate = 0;
  double duration = 10;
  double warmup = 0;
  u32 users = 0;  // 0: one user per client
  u32 conns_per_user = 1;
  u32 payload_bytes = 64;
  std::vector<in_addr> sources;
  double connect_rate = 2000;
  u32 max_inflight = 1;
  u32 max_pending = 2000;
  bool no_send = false;
};

[[noreturn]] void usage(const char* msg) {
  if (msg) std::fprintf(stderr, "rollcall-loadgen: %s\n", msg);
  std::fprintf(stderr,
               "usage: rollcall-loadgen --port PORT --scenario idle|broadcast|echo|churn|polling-echo\n"
               "  [--host 127.0.0.1] [--path /socket.io/] [--clients N=100] [--duration S=10] [--warmup S=0]\n"
               "  [--rate R=0 (bcast emits/s; 0 = closed loop)] [--max-inflight M=1] [--no-send]\n"
               "  [--users U (tokens u<i %% U>; default N)] [--conns-per-user K=1 (churn)]\n"
               "  [--payload-bytes B=64] [--source-ips 127.0.0.1,127.0.0.2,...]\n"
               "  [--connect-rate C=2000 (new connections/s while ramping)] [--max-pending P=2000]\n"
               "Loopback (127.0.0.0/8) addresses only. See bench/README.md.\n");
  std::exit(2);
}

bool parse_loopback(const std::string& s, in_addr& out) {
  std::string h = s == "localhost" ? "127.0.0.1" : s;
  if (inet_pton(AF_INET, h.c_str(), &out) != 1) return false;
  return (ntohl(out.s_addr) >> 24) == 127;
}

double parse_num(const std::string& name, const std::string& v, double lo, double hi) {
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !(d >= lo && d <= hi)) {
    std::string msg = "bad value for " + name + ": " + v + " (allowed " + std::to_string(lo) + ".." +
                      std::to_string(hi) + ")";
    usage(msg.c_str());
  }
  return d;
}

Options parse_options(int argc, char** argv) {
  Options o;
  bool users_set = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string v;
    if (a == "-h" || a == "--help") usage(nullptr);
    if (a == "--no-send") {
      o.no_send = true;
      continue;
    }
    auto eq = a.find('=');
    if (eq != std::string::npos) {
      v = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else {
      if (i + 1 >= argc) usage(("missing value for " + a).c_str());
      v = argv[++i];
    }
    if (a == "--host") {
      o.host = v;
    } else if (a == "--port") {
      o.port = static_cast<int>(parse_num(a, v, 1, 65535));
    } else if (a == "--path") {
      o.path = v;
    } else if (a == "--scenario") {
      o.scenario_name = v;
      if (v == "idle") o.scenario = Scenario::Idle;
      else if (v == "broadcast") o.scenario = Scenario::Broadcast;
      else if (v == "echo") o.scenario = Scenario::Echo;
      else if (v == "churn") o.scenario = Scenario::Churn;
      else if (v == "polling-echo") o.scenario = Scenario::PollingEcho;
      else usage(("unknown scenario " + v).c_str());
    } else if (a == "--clients") {
      o.clients = static_cast<u32>(parse_num(a, v, 1, 500000));
    } else if (a == "--rate") {
      o.rate = parse_num(a, v, 0, 1e6);
    } else if (a == "--duration") {
      o.duration = parse_num(a, v, 0.1, 86400);
    } else if (a == "--warmup") {
      o.warmup = parse_num(a, v, 0, 3600);
    } else if (a == "--users") {
      o.users = static_cast<u32>(parse_num(a, v, 1, 10000000));
      users_set = true;
    } else if (a == "--conns-per-user") {
      o.conns_per_user = static_cast<u32>(parse_num(a, v, 1, 100000));
    } else if (a == "--payload-bytes") {
      o.payload_bytes = static_cast<u32>(parse_num(a, v, 0, 900000));
    } else if (a == "--source-ips") {
      std::size_t pos = 0;
      while (pos <= v.size()) {
        auto comma = v.find(',', pos);
        std::string ip = v.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        if (!ip.empty()) {
          in_addr addr{};
          if (!parse_loopback(ip, addr)) usage(("source ip must be in 127.0.0.0/8: " + ip).c_str());
          o.sources.push_back(addr);
        }
        if (comma == std::string::npos) break;
        pos = comma + 1;
      }
    } else if (a == "--connect-rate") {
      o.connect_rate = parse_num(a, v, 1, 1e6);
    } else if (a == "--max-inflight") {
      o.max_inflight = static_cast<u32>(parse_num(a, v, 1, 1000000));
    } else if (a == "--max-pending") {
      o.max_pending = static_cast<u32>(parse_num(a, v, 1, 1000000));
    } else {
      usage(("unknown option " + a).c_str());
    }
  }
  if (o.port == 0) usage("--port is required");
  if (!parse_loopback(o.host, o.host_addr)) usage("--host must be a loopback address (127.0.0.0/8)");
  if (!users_set) o.users = o.clients;
  if (o.path.empty() || o.path[0] != '/') usage("--path must start with /");
  for (char ch : o.path)
    if (ch <= ' ' || ch == '?' || ch == '#' || ch == 0x7f) usage("--path has an invalid character");
  return o;
}

// ---------------------------------------------------------------------------
// Connections

enum St : std::uint8_t {
  S_FREE,
  S_UPGRADE,   // WebSocket: TCP connect / waiting for 101
  S_OPEN,      // waiting for the Engine.IO open packet (polling: the handshake GET)
  S_CONNECT,   // CONNECT sent, waiting for 40
  S_READY,     // Socket.IO connected
  S_CLOSING,   // close frame sent or received, waiting for EOF
  S_DEAD,
};

enum Kind : std::uint8_t {
  K_NONE,           // clean end (our close, server EOF)
  K_TCP,            // socket/bind/connect failed
  K_TIMEOUT,        // no CONNECT ack within 10 s
  K_HANDSHAKE,      // bad HTTP / WebSocket handshake
  K_CONNECT_ERROR,  // 44 (CONNECT refused)
  K_CLOSED,         // peer closed (EOF, close frame, 41, Engine.IO close)
  K_PROTOCOL,       // unparseable frame or packet
  K_IO,             // read/write error (ECONNRESET...)
  K_CLOSE_TIMEOUT,  // no EOF within 5 s after our close
  K_COUNT
};
const char* const kKindNames[K_COUNT] = {"none",   "tcp",      "timeout", "handshake",    "connect_error",
                                         "closed", "protocol", "io",      "close_timeout"};

struct Sock {
  int fd = -1;
  bool up = false;  // TCP connect completed
  std::string in;   // unparsed input (partial frame / HTTP response)
  std::string out;  // unsent output
};

struct Client {
  u32 gen = 0;
  St st = S_FREE;
  Kind kill_kind = K_NONE;
  bool killed = false;
  bool we_close = false;
  bool counted_pending = false;
  bool counted_ready = false;
  bool get_busy = false;   // polling: a GET is outstanding
  bool post_busy = false;  // polling: a POST is outstanding
  bool echo_wait = false;
  std::uint8_t frag_op = 0;
  u32 user = 0;
  u64 t_start = 0;
  u64 echo_id = 0;
  u64 echo_t = 0;
  Sock s[2];  // [0]: WebSocket or polling GET; [1]: polling POST
  std::string frag;
  std::string sid;    // polling
  std::string postq;  // polling: packets waiting for the next POST
};

struct Deadline {
  u32 idx;
  u32 gen;
  u64 at;
};

struct Emit {
  u64 seq = 0;
  u64 ns = 0;
  u32 expected = 0;
  u32 got = 0;
  bool active = false;
};

enum Phase { P_RAMP, P_WARMUP, P_MEASURE, P_DRAIN, P_CLOSING, P_DONE };

class Loadgen {
 public:
  explicit Loadgen(Options o) : o_(std::move(o)) {}
  int run();

 private:
  // setup / loop
  void print_phase(const char* line);
  void housekeeping();
  void next_phase_checks();
  int wait_timeout_ms();
  void begin_activity();
  void begin_closing();
  bool drained();
  void finish_hard(const char* why);
  void print_result();

  // connections
  bool polling() const { return o_.scenario == Scenario::PollingEcho; }
  bool churn() const { return o_.scenario == Scenario::Churn; }
  bool activity() const { return phase_ == P_WARMUP || phase_ == P_MEASURE; }
  bool in_window(u64 t) const { return measure_start_ != 0 && t >= measure_start_ && t < measure_end_; }
  void start_client(u32 idx);
  bool open_sock(u32 idx, int role);
  void close_sock(Client& c, int role);
  void kill(u32 idx, Kind k);
  void reap();
  void on_event(u64 data, u32 events);
  void read_sock(u32 idx, int role, u32 events);
  void flush(u32 idx, int role);
  void send_raw(u32 idx, int role, const char* p, std::size_t n);
  void on_eof(u32 idx, int role);

  // WebSocket
  void ws_feed(u32 idx, const char* p, std::size_t n);
  void ws_frames(u32 idx, const char* p, std::size_t n);
  void on_frame(u32 idx, bool fin, int op, const char* p, std::size_t n);
  void ws_send(u32 idx, int op, const char* p, std::size_t n);
  void ws_close(u32 idx, std::uint16_t code);

  // polling
  void poll_feed(u32 idx, int role, const char* p, std::size_t n);
  void poll_get(u32 idx);
  void pump_post(u32 idx);

  // Engine.IO / Socket.IO
  void send_packet(u32 idx, std::string_view pkt);
  void on_eio(u32 idx, std::string_view pkt);
  void on_sio(u32 idx, std::string_view pkt);
  void on_ready(u32 idx);
  void on_msg(std::string_view args);
  void on_ack(u32 idx, u64 id);
  void send_echo(u32 idx);
  void emit_bcast();
  void sender_tick();

  Options o_;
  int ep_ = -1;
  rlim_t nofile_ = 0;
  std::vector<Client> cl_;
  std::vector<u32> kill_list_;
  std::deque<Deadline> connect_dl_, close_dl_;
  std::deque<std::pair<u32, u64>> restart_q_;  // churn: (idx, not before)
  u64 src_rr_ = 0;
  char rbuf_[65536];
  std::string scratch_;
  std::string payload_;  // 'x' * payload_bytes
  std::string connect_pkt_prefix_;

  Phase phase_ = P_RAMP;
  u64 t0_ = 0, ramp_t0_ = 0, warm_end_ = 0, measure_start_ = 0, measure_end_ = ~0ULL, measure_target_ = 0;
  u64 drain_deadline_ = 0, closing_deadline_ = 0, hard_deadline_ = 0;
  bool timed_out_ = false;
  std::string stop_reason_;

  // counters
  u32 started_ = 0;
  u32 pending_ = 0;
  u32 alive_ready_ = 0;
  u64 ever_ready_ = 0;
  u64 connect_errors_ = 0;
  u64 kind_counts_[K_COUNT] = {};
  u64 disconnects_ = 0;
  u64 binary_frames_ = 0;
  u32 connected_at_phase_ = 0;
  Histogram h_connect_;

  // broadcast
  long sender_ = -1;
  u32 receivers_ = 0;
  u64 next_seq_ = 0;
  u64 emitted_total_ = 0, win_emitted_ = 0, emit_skipped_ = 0, emit_timeouts_ = 0;
  u64 delivered_total_ = 0, win_delivered_ = 0, msg_unparsed_ = 0;
  u64 pace_start_ = 0, pace_k_ = 0;
  u64 last_msg_ns_ = 0;
  u32 inflight_ = 0;
  std::vector<Emit> ring_;
  u64 last_ring_scan_ = 0;
  Histogram h_lat_;

  // echo
  u64 round_trips_ = 0, echo_outstanding_ = 0, ack_mismatch_ = 0;
  Histogram h_rtt_;

  // churn
  u64 churn_next_ = 0;
  u64 cycles_ = 0, cycles_total_ = 0, churn_errors_ = 0, churn_errors_total_ = 0;
  u32 churn_live_ = 0;
  Histogram h_cycle_, h_churn_connect_;
};

// ---------------------------------------------------------------------------

void Loadgen::print_phase(const char* line) {
  std::fputs(line, stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

u64 pack(u32 idx, int role, u32 gen) {
  return u64{idx} | (u64(role & 1) << 32) | (u64(gen & 0x7fffffffU) << 33);
}

void Loadgen::start_client(u32 idx) {
  Client& c = cl_[idx];
  ++c.gen;
  c.st = polling() ? S_OPEN : S_UPGRADE;
  c.kill_kind = K_NONE;
  c.killed = c.we_close = c.counted_ready = c.get_busy = c.post_busy = c.echo_wait = false;
  c.frag_op = 0;
  c.echo_id = 0;
  c.frag.clear();
  c.sid.clear();
  c.postq.clear();
  for (auto& s : c.s) {
    s.in.clear();
    s.out.clear();
    s.up = false;
  }
  if (churn()) {
    u64 slot = churn_next_++ % (u64{o_.users} * o_.conns_per_user);
    c.user = static_cast<u32>(slot / o_.conns_per_user);
    ++churn_live_;
  } else {
    c.user = idx % o_.users;
  }
  c.t_start = now_ns();
  c.counted_pending = true;
  ++pending_;
  connect_dl_.push_back({idx, c.gen, c.t_start + kConnectTimeout});
  if (!open_sock(idx, 0)) {
    kill(idx, K_TCP);
    return;
  }
  char req[1024];
  int n;
  if (polling()) {
    n = std::snprintf(req, sizeof req, "GET %s?EIO=4&transport=polling HTTP/1.1\r\nHost: %s:%d\r\n\r\n",
                      o_.path.c_str(), o_.host.c_str(), o_.port);
    c.get_busy = true;
  } else {
    unsigned char key[16];
    u64 r1 = rnd(), r2 = rnd();
    std::memcpy(key, &r1, 8);
    std::memcpy(key + 8, &r2, 8);
    std::string k = base64(key, 16);
    n = std::snprintf(req, sizeof req,
                      "GET %s?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                      o_.path.c_str(), o_.host.c_str(), o_.port, k.c_str());
    // Remember the expected accept value in `sid` (unused on WebSocket).
    std::string acc = k + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char dig[20];
    sha1(reinterpret_cast<const unsigned char*>(acc.data()), acc.size(), dig);
    c.sid = base64(dig, 20);
  }
  send_raw(idx, 0, req, static_cast<std::size_t>(n));
}

bool Loadgen::open_sock(u32 idx, int role) {
  Client& c = cl_[idx];
  Sock& s = c.s[role];
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!o_.sources.empty()) {
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr = o_.sources[src_rr_++ % o_.sources.size()];
    if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
      ::close(fd);
      return false;
    }
  }
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<std::uint16_t>(o_.port));
  dst.sin_addr = o_.host_addr;
  s.up = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) == 0) {
    s.up = true;
  } else if (errno != EINPROGRESS) {
    ::close(fd);
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP;
  ev.data.u64 = pack(idx, role, c.gen);
  if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    ::close(fd);
    return false;
  }
  s.fd = fd;
  return true;
}

void Loadgen::close_sock(Client& c, int role) {
  Sock& s = c.s[role];
  if (s.fd >= 0) ::close(s.fd);  // also leaves the epoll set
  s.fd = -1;
  s.up = false;
  std::string().swap(s.in);
  std::string().swap(s.out);
}

void Loadgen::kill(u32 idx, Kind k) {
  Client& c = cl_[idx];
  if (c.killed || c.st == S_DEAD || c.st == S_FREE) return;
  c.killed = true;
  c.kill_kind = k;
  kill_list_.push_back(idx);
}

// Closes killed clients and does the accounting. Never called from inside a
// handler, so no handler ever sees its buffers disappear.
void Loadgen::reap() {
  for (std::size_t i = 0; i < kill_list_.size(); ++i) {
    u32 idx = kill_list_[i];
    Client& c = cl_[idx];
    if (!c.killed) continue;
    u64 now = now_ns();
    Kind k = c.kill_kind;
    bool counting = phase_ < P_CLOSING;
    close_sock(c, 0);
    close_sock(c, 1);
    std::string().swap(c.frag);
    std::string().swap(c.postq);
    if (c.echo_wait) {
      c.echo_wait = false;
      --echo_outstanding_;
    }
    if (c.counted_pending) {
      c.counted_pending = false;
      --pending_;
      if (counting) {
        ++connect_errors_;
        ++kind_counts_[k == K_NONE ? K_CLOSED : k];
      }
    }
    if (c.counted_ready) {
      c.counted_ready = false;
      --alive_ready_;
      if (counting && !churn() && phase_ <= P_MEASURE) ++disconnects_;
      if (counting && churn() && k != K_NONE) ++kind_counts_[k];
    }
    if (churn()) {
      --churn_live_;
      if (counting) {
        if (k == K_NONE) {
          ++cycles_total_;
          if (in_window(now)) {
            ++cycles_;
            h_cycle_.record(now - c.t_start);
          }
        } else {
          ++churn_errors_total_;
          if (in_window(now)) ++churn_errors_;
        }
      }
      if (activity()) restart_q_.emplace_back(idx, k == K_NONE ? 0 : now + 10 * kMs);
    }
    c.st = S_DEAD;
    c.killed = false;
  }
  kill_list_.clear();
}

void Loadgen::send_raw(u32 idx, int role, const char* p, std::size_t n) {
  Client& c = cl_[idx];
  Sock& s = c.s[role];
  if (c.killed || s.fd < 0) return;
  if (s.up && s.out.empty()) {
    ssize_t w = ::send(s.fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        kill(idx, K_IO);
        return;
      }
      w = 0;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
    if (n == 0) return;
  }
  s.out.append(p, n);
}

void Loadgen::flush(u32 idx, int role) {
  Client& c = cl_[idx];
  Sock& s = c.s[role];
  while (!s.out.empty()) {
    ssize_t w = ::send(s.fd, s.out.data(), s.out.size(), MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) kill(idx, K_IO);
      return;
    }
    s.out.erase(0, static_cast<std::size_t>(w));
  }
  if (s.out.capacity() > 65536) std::string().swap(s.out);
}

void Loadgen::on_event(u64 data, u32 events) {
  u32 idx = static_cast<u32>(data & 0xffffffffU);
  int role = static_cast<int>((data >> 32) & 1);
  u32 gen = static_cast<u32>(data >> 33);
  if (idx >= cl_.size()) return;
  Client& c = cl_[idx];
  if ((c.gen & 0x7fffffffU) != gen || c.killed || c.s[role].fd < 0) return;
  Sock& s = c.s[role];
  if (!s.up) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
      kill(idx, c.counted_ready ? K_IO : K_TCP);
      return;
    }
    s.up = true;
  }
  if (events & EPOLLOUT) flush(idx, role);
  if (c.killed) return;
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) read_sock(idx, role, events);
}

void Loadgen::read_sock(u32 idx, int role, u32 events) {
  // A short read means the buffer was drained, unless the peer also closed:
  // then the EOF is already queued and no new edge will announce it.
  bool hup = events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR);
  Client& c = cl_[idx];
  int fd = c.s[role].fd;
  for (;;) {
    ssize_t n = ::recv(fd, rbuf_, sizeof rbuf_, 0);
    if (n > 0) {
      if (polling()) poll_feed(idx, role, rbuf_, static_cast<std::size_t>(n));
      else ws_feed(idx, rbuf_, static_cast<std::size_t>(n));
      if (c.killed || c.s[role].fd != fd) return;
      if (static_cast<std::size_t>(n) < sizeof rbuf_ && !hup) return;  // drained (edge-triggered)
      continue;
    }
    if (n == 0) {
      on_eof(idx, role);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    kill(idx, c.st == S_CLOSING && c.we_close ? K_NONE : K_IO);
    return;
  }
}

void Loadgen::on_eof(u32 idx, int role) {
  Client& c = cl_[idx];
  if (polling()) {
    bool busy = role == 0 ? c.get_busy : c.post_busy;
    if (!busy && c.counted_ready) {
      close_sock(c, role);  // an idle keep-alive connection closed: reopen on demand
      return;
    }
    kill(idx, K_CLOSED);
    return;
  }
  kill(idx, c.st == S_CLOSING && c.we_close ? K_NONE : K_CLOSED);
}

// ---------------------------------------------------------------------------
// WebSocket

void Loadgen::ws_feed(u32 idx, const char* p, std::size_t n) {
  Client& c = cl_[idx];
  Sock& s = c.s[0];
  if (c.st != S_UPGRADE) {
    ws_frames(idx, p, n);
    return;
  }
  s.in.append(p, n);
  auto he = s.in.find("\r\n\r\n");
  if (he == std::string::npos) {
    if (s.in.size() > 16384) kill(idx, K_HANDSHAKE);
    return;
  }
  std::string_view head(s.in.data(), he);
  if (!(head.starts_with("HTTP/1.1 101") || head.starts_with("HTTP/1.0 101"))) {
    kill(idx, K_HANDSHAKE);
    return;
  }
  bool accept_ok = false;
  std::size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos < head.size()) {
    std::size_t next = head.find("\r\n", pos + 2);
    std::string_view line = head.substr(pos + 2, (next == std::string_view::npos ? head.size() : next) - pos - 2);
    if (ieq_prefix(line, "sec-websocket-accept:")) accept_ok = trim(line.substr(21)) == c.sid;
    pos = next;
  }
  if (!accept_ok) {
    kill(idx, K_HANDSHAKE);
    return;
  }
  c.st = S_OPEN;
  std::string rest = s.in.substr(he + 4);
  s.in.clear();
  c.sid.clear();
  if (!rest.empty()) ws_frames(idx, rest.data(), rest.size());
}

void Loadgen::ws_frames(u32 idx, const char* p, std::size_t n) {
  Client& c = cl_[idx];
  Sock& s = c.s[0];
  bool use_in = !s.in.empty();
  const char* data = p;
  std::size_t len = n;
  if (use_in) {
    s.in.append(p, n);
    data = s.in.data();
    len = s.in.size();
  }
  std::size_t pos = 0;
  while (len - pos >= 2) {
    auto b0 = static_cast<unsigned char>(data[pos]);
    auto b1 = static_cast<unsigned char>(data[pos + 1]);
    bool fin = b0 & 0x80;
    int op = b0 & 0x0f;
    bool masked = b1 & 0x80;
    u64 plen = b1 & 0x7f;
    std::size_t hl = 2;
    if (plen == 126) {
      if (len - pos < 4) break;
      plen = (u64{static_cast<unsigned char>(data[pos + 2])} << 8) | static_cast<unsigned char>(data[pos + 3]);
      hl = 4;
    } else if (plen == 127) {
      if (len - pos < 10) break;
      plen = 0;
      for (int i = 0; i < 8; ++i) plen = (plen << 8) | static_cast<unsigned char>(data[pos + 2 + i]);
      hl = 10;
    }
    if ((b0 & 0x70) != 0 || plen > kMaxMessage) {
      kill(idx, K_PROTOCOL);
      return;
    }
    std::size_t mask_at = pos + hl;
    if (masked) hl += 4;
    if (len - pos < hl + plen) break;
    const char* pl = data + pos + hl;
    std::string unmasked;
    if (masked) {  // servers must not mask, but be lenient
      unmasked.assign(pl, plen);
      for (std::size_t i = 0; i < plen; ++i) unmasked[i] ^= data[mask_at + (i & 3)];
      pl = unmasked.data();
    }
    on_frame(idx, fin, op, pl, static_cast<std::size_t>(plen));
    pos += hl + static_cast<std::size_t>(plen);
    if (c.killed) return;
  }
  if (use_in) {
    s.in.erase(0, pos);
    if (s.in.empty() && s.in.capacity() > 65536) std::string().swap(s.in);
  } else if (pos < len) {
    s.in.assign(data + pos, len - pos);
  }
}

void Loadgen::on_frame(u32 idx, bool fin, int op, const char* p, std::size_t n) {
  Client& c = cl_[idx];
  switch (op) {
    case 0:  // continuation
      if (c.frag_op == 0) {
        kill(idx, K_PROTOCOL);
        return;
      }
      c.frag.append(p, n);
      if (c.frag.size() > kMaxMessage) {
        kill(idx, K_PROTOCOL);
        return;
      }
      if (fin) {
        std::string msg;
        msg.swap(c.frag);
        int fop = c.frag_op;
        c.frag_op = 0;
        if (fop == 1) on_eio(idx, msg);
        else ++binary_frames_;
      }
      return;
    case 1:
    case 2:
      if (c.frag_op != 0) {
        kill(idx, K_PROTOCOL);
        return;
      }
      if (!fin) {
        c.frag_op = static_cast<std::uint8_t>(op);
        c.frag.assign(p, n);
        return;
      }
      if (op == 1) on_eio(idx, std::string_view(p, n));
      else ++binary_frames_;
      return;
    case 8: {  // close
      if (c.st != S_CLOSING) {
        std::uint16_t code = 1000;
        if (n >= 2) code = static_cast<std::uint16_t>((static_cast<unsigned char>(p[0]) << 8) | static_cast<unsigned char>(p[1]));
        ws_close(idx, code);
        c.we_close = false;  // the server started it
        c.st = S_CLOSING;
        close_dl_.push_back({idx, c.gen, now_ns() + kCloseTimeout});
      }
      return;
    }
    case 9:  // ping
      ws_send(idx, 10, p, n);
      return;
    case 10:  // pong
      return;
    default:
      kill(idx, K_PROTOCOL);
  }
}

void Loadgen::ws_send(u32 idx, int op, const char* p, std::size_t n) {
  std::string& f = scratch_;
  f.clear();
  f.push_back(static_cast<char>(0x80 | op));
  if (n < 126) {
    f.push_back(static_cast<char>(0x80 | n));
  } else if (n < 65536) {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xff));
  } else {
    f.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((u64{n} >> (8 * i)) & 0xff));
  }
  u32 mask = static_cast<u32>(rnd() >> 32);
  unsigned char mk[4];
  std::memcpy(mk, &mask, 4);
  f.append(reinterpret_cast<const char*>(mk), 4);
  std::size_t at = f.size();
  f.append(p, n);
  char* d = f.data() + at;
  std::size_t i = 0;
  u64 m8;
  std::memcpy(&m8, mk, 4);
  std::memcpy(reinterpret_cast<char*>(&m8) + 4, mk, 4);
  for (; i + 8 <= n; i += 8) {
    u64 v;
    std::memcpy(&v, d + i, 8);
    v ^= m8;
    std::memcpy(d + i, &v, 8);
  }
  for (; i < n; ++i) d[i] = static_cast<char>(d[i] ^ mk[i & 3]);
  send_raw(idx, 0, f.data(), f.size());
}

void Loadgen::ws_close(u32 idx, std::uint16_t code) {
  char b[2] = {static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
  ws_send(idx, 8, b, 2);
}

// ---------------------------------------------------------------------------
// HTTP long-polling

// Parses one HTTP response at the start of `in`. Returns -1 on error, 0 if
// incomplete, 1 when complete (body points into `in` or into `chunked`).
int parse_http(const std::string& in, int& status, std::string_view& body, std::size_t& consumed, bool& close,
               std::string& chunked) {
  auto he = in.find("\r\n\r\n");
  if (he == std::string::npos) return in.size() > 65536 ? -1 : 0;
  if (in.compare(0, 5, "HTTP/") != 0) return -1;
  auto sp = in.find(' ');
  if (sp == std::string::npos || sp > he) return -1;
  status = std::atoi(in.c_str() + sp + 1);
  long long clen = -1;
  bool is_chunked = false;
  close = in.compare(0, 8, "HTTP/1.0") == 0;
  std::size_t pos = in.find("\r\n");
  while (pos < he) {
    std::size_t next = in.find("\r\n", pos + 2);
    std::string_view line(in.data() + pos + 2, next - pos - 2);
    if (ieq_prefix(line, "content-length:")) {
      clen = std::atoll(std::string(trim(line.substr(15))).c_str());
    } else if (ieq_prefix(line, "transfer-encoding:")) {
      is_chunked = trim(line.substr(18)).find("chunked") != std::string_view::npos;
    } else if (ieq_prefix(line, "connection:")) {
      auto v = trim(line.substr(11));
      if (ieq_prefix(v, "close")) close = true;
      if (ieq_prefix(v, "keep-alive")) close = false;
    }
    pos = next;
  }
  std::size_t b = he + 4;
  if (is_chunked) {
    chunked.clear();
    std::size_t p = b;
    for (;;) {
      auto eol = in.find("\r\n", p);
      if (eol == std::string::npos) return 0;
      std::size_t sz = std::strtoul(in.c_str() + p, nullptr, 16);
      if (sz > kMaxMessage) return -1;
      if (sz == 0) {
        auto end = in.find("\r\n\r\n", eol);  // optional trailers
        if (end == eol) end = eol;
        if (in.compare(eol, 4, "\r\n\r\n") == 0) {
          consumed = eol + 4;
        } else {
          if (end == std::string::npos) return 0;
          consumed = end + 4;
        }
        body = chunked;
        return 1;
      }
      if (in.size() < eol + 2 + sz + 2) return 0;
      chunked.append(in, eol + 2, sz);
      p = eol + 2 + sz + 2;
    }
  }
  if (clen < 0) clen = 0;
  if (static_cast<u64>(clen) > kMaxMessage) return -1;
  if (in.size() < b + static_cast<std::size_t>(clen)) return 0;
  body = std::string_view(in.data() + b, static_cast<std::size_t>(clen));
  consumed = b + static_cast<std::size_t>(clen);
  return 1;
}

void Loadgen::poll_feed(u32 idx, int role, const char* p, std::size_t n) {
  Client& c = cl_[idx];
  Sock& s = c.s[role];
  s.in.append(p, n);
  std::size_t done = 0;
  bool close_after = false;
  std::string chunked;
  while (!c.killed && done < s.in.size()) {
    // parse_http wants the response at the start: work on a view-copy only when needed
    std::string tail_copy;
    const std::string* buf = &s.in;
    if (done > 0) {
      tail_copy = s.in.substr(done);
      buf = &tail_copy;
    }
    int status = 0;
    std::string_view body;
    std::size_t consumed = 0;
    bool close = false;
    int r = parse_http(*buf, status, body, consumed, close, chunked);
    if (r < 0) {
      kill(idx, K_PROTOCOL);
      return;
    }
    if (r == 0) break;
    done += consumed;
    close_after = close_after || close;
    if (role == 1) {  // POST answered
      c.post_busy = false;
      if (status != 200) {
        kill(idx, c.counted_ready ? K_CLOSED : K_HANDSHAKE);
        return;
      }
      continue;
    }
    // GET answered
    c.get_busy = false;
    if (status != 200) {
      kill(idx, c.counted_ready ? K_CLOSED : K_HANDSHAKE);
      return;
    }
    if (c.st == S_OPEN) {  // the handshake
      auto k = body.find("\"sid\":\"");
      if (body.empty() || body[0] != '0' || k == std::string_view::npos) {
        kill(idx, K_HANDSHAKE);
        return;
      }
      auto e = body.find('"', k + 7);
      if (e == std::string_view::npos) {
        kill(idx, K_HANDSHAKE);
        return;
      }
      c.sid.assign(body.substr(k + 7, e - k - 7));
      on_eio(idx, body.substr(0, body.find('\x1e')));
      continue;  // the first long-poll GET is issued below
    }
    std::size_t q = 0;
    while (q <= body.size() && !c.killed) {
      auto sep = body.find('\x1e', q);
      std::string_view pkt = body.substr(q, sep == std::string_view::npos ? std::string_view::npos : sep - q);
      if (!pkt.empty() && pkt[0] == 'b') ++binary_frames_;
      else on_eio(idx, pkt);
      if (sep == std::string_view::npos) break;
      q = sep + 1;
    }
  }
  if (c.killed) return;
  s.in.erase(0, done);
  if (close_after) close_sock(c, role);  // the next request opens a new connection
  if (role == 1) pump_post(idx);
  if (role == 0 && !c.get_busy && phase_ < P_CLOSING && c.st != S_OPEN) poll_get(idx);
}

void Loadgen::poll_get(u32 idx) {
  Client& c = cl_[idx];
  if (c.killed || c.get_busy) return;
  if (c.s[0].fd < 0 && !open_sock(idx, 0)) {
    kill(idx, K_TCP);
    return;
  }
  char req[512];
  int n = std::snprintf(req, sizeof req, "GET %s?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: %s:%d\r\n\r\n",
                        o_.path.c_str(), c.sid.c_str(), o_.host.c_str(), o_.port);
  c.get_busy = true;
  send_raw(idx, 0, req, static_cast<std::size_t>(n));
}

void Loadgen::pump_post(u32 idx) {
  Client& c = cl_[idx];
  if (c.killed || c.post_busy || c.postq.empty()) return;
  if (c.s[1].fd < 0 && !open_sock(idx, 1)) {
    kill(idx, K_TCP);
    return;
  }
  char head[512];
  int n = std::snprintf(head, sizeof head,
                        "POST %s?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: %s:%d\r\n"
                        "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %zu\r\n\r\n",
                        o_.path.c_str(), c.sid.c_str(), o_.host.c_str(), o_.port, c.postq.size());
  std::string& req = scratch_;
  req.assign(head, static_cast<std::size_t>(n));
  req += c.postq;
  c.postq.clear();
  c.post_busy = true;
  send_raw(idx, 1, req.data(), req.size());
}

// ---------------------------------------------------------------------------
// Engine.IO / Socket.IO

void Loadgen::send_packet(u32 idx, std::string_view pkt) {
  Client& c = cl_[idx];
  if (!polling()) {
    ws_send(idx, 1, pkt.data(), pkt.size());
    return;
  }
  if (!c.postq.empty()) c.postq.push_back('\x1e');
  c.postq.append(pkt);
  pump_post(idx);
}

void Loadgen::on_eio(u32 idx, std::string_view pkt) {
  Client& c = cl_[idx];
  if (pkt.empty()) {
    kill(idx, K_PROTOCOL);
    return;
  }
  switch (pkt[0]) {
    case '0':
      if (c.st == S_OPEN) {
        std::string& m = connect_pkt_prefix_;
        m.assign("40{\"token\":\"u");
        m += std::to_string(c.user);
        m += "\"}";
        std::string copy = m;
        c.st = S_CONNECT;
        send_packet(idx, copy);
      }
      return;
    case '1':
      kill(idx, K_CLOSED);
      return;
    case '2':
      send_packet(idx, "3");
      return;
    case '3':
    case '6':
      return;
    case '4':
      on_sio(idx, pkt.substr(1));
      return;
    default:
      kill(idx, K_PROTOCOL);
  }
}

void Loadgen::on_sio(u32 idx, std::string_view p) {
  Client& c = cl_[idx];
  if (p.empty()) {
    kill(idx, K_PROTOCOL);
    return;
  }
  switch (p[0]) {
    case '0':
      if (c.st == S_CONNECT) on_ready(idx);
      return;
    case '4':
      kill(idx, K_CONNECT_ERROR);
      return;
    case '1':
      kill(idx, K_CLOSED);
      return;
    case '2':
      if (p.starts_with("2[\"msg\",")) on_msg(p.substr(8));
      return;
    case '3': {
      u64 id = 0;
      std::size_t i = 1;
      if (i >= p.size() || p[i] < '0' || p[i] > '9') return;  // ack for another namespace: ignore
      while (i < p.size() && p[i] >= '0' && p[i] <= '9') id = id * 10 + static_cast<u64>(p[i++] - '0');
      on_ack(idx, id);
      return;
    }
    default:
      return;  // binary events/acks (5, 6): not used by the scenarios
  }
}

void Loadgen::on_ready(u32 idx) {
  Client& c = cl_[idx];
  u64 now = now_ns();
  c.st = S_READY;
  if (c.counted_pending) {
    c.counted_pending = false;
    --pending_;
  }
  c.counted_ready = true;
  ++alive_ready_;
  ++ever_ready_;
  if (churn()) {
    if (in_window(now)) h_churn_connect_.record(now - c.t_start);
    send_packet(idx, "41");
    ws_close(idx, 1000);
    c.we_close = true;
    c.st = S_CLOSING;
    close_dl_.push_back({idx, c.gen, now + kCloseTimeout});
    return;
  }
  h_connect_.record(now - c.t_start);
  if (activity() && (o_.scenario == Scenario::Echo || o_.scenario == Scenario::PollingEcho)) send_echo(idx);
}

// args: everything after `42["msg",`; the payload starts with "<ns> <seq> ".
void Loadgen::on_msg(std::string_view args) {
  u64 now = now_ns();
  ++delivered_total_;
  last_msg_ns_ = now;
  if (args.empty() || args[0] != '"') {
    ++msg_unparsed_;
    return;
  }
  std::size_t i = 1;
  u64 ns = 0, seq = 0;
  std::size_t start = i;
  while (i < args.size() && args[i] >= '0' && args[i] <= '9') ns = ns * 10 + static_cast<u64>(args[i++] - '0');
  if (i == start || i >= args.size() || args[i] != ' ') {
    ++msg_unparsed_;
    return;
  }
  start = ++i;
  while (i < args.size() && args[i] >= '0' && args[i] <= '9') seq = seq * 10 + static_cast<u64>(args[i++] - '0');
  if (i == start) {
    ++msg_unparsed_;
    return;
  }
  if (in_window(ns)) {
    ++win_delivered_;
    h_lat_.record(now > ns ? now - ns : 0);
  }
  if (!ring_.empty()) {
    Emit& e = ring_[seq % ring_.size()];
    if (e.active && e.seq == seq && ++e.got >= e.expected) {
      e.active = false;
      --inflight_;
    }
  }
}

void Loadgen::on_ack(u32 idx, u64 id) {
  Client& c = cl_[idx];
  if (!c.echo_wait || id != c.echo_id) {
    ++ack_mismatch_;
    return;
  }
  u64 now = now_ns();
  c.echo_wait = false;
  --echo_outstanding_;
  if (in_window(now)) {
    ++round_trips_;
    h_rtt_.record(now - c.echo_t);
  }
  if (activity()) send_echo(idx);
}

void Loadgen::send_echo(u32 idx) {
  Client& c = cl_[idx];
  if (c.echo_wait || c.killed || c.st != S_READY) return;
  ++c.echo_id;
  std::string pkt = "42" + std::to_string(c.echo_id) + "[\"echo\",\"";
  pkt += payload_;
  pkt += "\"]";
  c.echo_wait = true;
  ++echo_outstanding_;
  c.echo_t = now_ns();
  send_packet(idx, pkt);
}

void Loadgen::emit_bcast() {
  if (sender_ < 0) return;
  u32 idx = static_cast<u32>(sender_);
  Client& c = cl_[idx];
  if (c.killed || c.st != S_READY) return;
  if (c.s[0].out.size() > kMaxOutQueue) {
    ++emit_skipped_;
    return;
  }
  u64 seq = next_seq_++;
  u64 ns = now_ns();
  char head[64];
  int hn = std::snprintf(head, sizeof head, "%" PRIu64 " %" PRIu64 " ", ns, seq);
  std::string pkt = "42[\"bcast\",\"";
  pkt.append(head, static_cast<std::size_t>(hn));
  if (payload_.size() > static_cast<std::size_t>(hn)) pkt.append(payload_, static_cast<std::size_t>(hn));
  pkt += "\"]";
  ++emitted_total_;
  if (in_window(ns)) ++win_emitted_;
  if (!ring_.empty()) {
    Emit& e = ring_[seq % ring_.size()];
    if (e.active) --inflight_;  // should not happen: the slot is checked before emitting
    e = Emit{seq, ns, alive_ready_, 0, true};
    ++inflight_;
  }
  send_packet(idx, pkt);
}

void Loadgen::sender_tick() {
  if (o_.scenario != Scenario::Broadcast || o_.no_send || !activity() || sender_ < 0) return;
  u64 now = now_ns();
  if (o_.rate > 0) {
    double period = 1e9 / o_.rate;
    int burst = 0;
    while (burst < 10000 && now >= pace_start_ + static_cast<u64>(static_cast<double>(pace_k_) * period)) {
      emit_bcast();
      ++pace_k_;
      ++burst;
    }
    return;
  }
  if (now - last_ring_scan_ > 100 * kMs) {
    last_ring_scan_ = now;
    for (auto& e : ring_)
      if (e.active && now - e.ns > kEmitTimeout) {
        e.active = false;
        --inflight_;
        ++emit_timeouts_;
      }
  }
  while (inflight_ < o_.max_inflight && !ring_[next_seq_ % ring_.size()].active) {
    u64 before = emitted_total_;
    emit_bcast();
    if (emitted_total_ == before) break;
  }
}

// ---------------------------------------------------------------------------
// Phases

void Loadgen::begin_activity() {
  u64 now = now_ns();
  switch (o_.scenario) {
    case Scenario::Idle:
      break;
    case Scenario::Echo:
    case Scenario::PollingEcho:
      for (u32 i = 0; i < cl_.size(); ++i)
        if (cl_[i].st == S_READY && !cl_[i].killed) send_echo(i);
      break;
    case Scenario::Broadcast:
      for (u32 i = 0; i < cl_.size(); ++i)
        if (cl_[i].st == S_READY && !cl_[i].killed) {
          sender_ = i;
          break;
        }
      if (sender_ < 0 && !o_.no_send) std::fprintf(stderr, "rollcall-loadgen: no connected client to send from\n");
      pace_start_ = now;
      pace_k_ = 0;
      if (o_.rate == 0) ring_.assign(o_.max_inflight, Emit{});
      break;
    case Scenario::Churn: {
      u64 slots = u64{o_.users} * o_.conns_per_user;
      u32 workers = static_cast<u32>(std::min<u64>(o_.clients, slots));
      for (u32 i = 0; i < workers; ++i) restart_q_.emplace_back(i, 0);
      break;
    }
  }
}

void Loadgen::begin_closing() {
  phase_ = P_CLOSING;
  u64 now = now_ns();
  closing_deadline_ = now + 2 * kSec;
  restart_q_.clear();
  for (u32 i = 0; i < cl_.size(); ++i) {
    Client& c = cl_[i];
    if (c.killed || c.st == S_FREE || c.st == S_DEAD) continue;
    if (!polling() && c.st == S_READY) {
      ws_close(i, 1000);
      c.we_close = true;
      c.st = S_CLOSING;
    } else if (c.st != S_CLOSING) {
      kill(i, K_NONE);
    }
  }
}

bool Loadgen::drained() {
  u64 now = now_ns();
  switch (o_.scenario) {
    case Scenario::Idle:
      return true;
    case Scenario::Echo:
    case Scenario::PollingEcho:
      return echo_outstanding_ == 0;
    case Scenario::Churn:
      return churn_live_ == 0;
    case Scenario::Broadcast:
      if (o_.no_send) return now - std::max(last_msg_ns_, measure_end_) > kSec;
      if (win_delivered_ >= win_emitted_ * receivers_) return true;
      if (o_.rate == 0 && inflight_ == 0) return true;
      return now - std::max(last_msg_ns_, measure_end_) > kSec;
  }
  return true;
}

void Loadgen::next_phase_checks() {
  u64 now = now_ns();
  if (g_stop_signal != 0 && phase_ < P_CLOSING) {
    finish_hard("signal");
    return;
  }
  if (now >= hard_deadline_ && phase_ < P_DONE) {
    finish_hard("deadline");
    return;
  }
  switch (phase_) {
    case P_RAMP:
      if (churn() || (started_ == o_.clients && pending_ == 0)) {
        connected_at_phase_ = alive_ready_;
        char line[64];
        std::snprintf(line, sizeof line, "phase connected %u", alive_ready_);
        print_phase(line);
        phase_ = P_WARMUP;
        warm_end_ = now + static_cast<u64>(o_.warmup * 1e9);
        begin_activity();
      }
      break;
    case P_WARMUP:
      if (now >= warm_end_) {
        measure_start_ = now_ns();
        measure_target_ = measure_start_ + static_cast<u64>(o_.duration * 1e9);
        receivers_ = alive_ready_;
        phase_ = P_MEASURE;
        print_phase("phase measure-start");
      }
      break;
    case P_MEASURE:
      if (now >= measure_target_) {
        measure_end_ = now_ns();
        phase_ = P_DRAIN;
        print_phase("phase measure-end");
        drain_deadline_ = now + (o_.scenario == Scenario::Broadcast ? 10 : 5) * kSec;
        restart_q_.clear();
      }
      break;
    case P_DRAIN:
      if (drained() || now >= drain_deadline_) begin_closing();
      break;
    case P_CLOSING: {
      bool any = false;
      for (auto& c : cl_)
        if (c.st != S_FREE && c.st != S_DEAD && !c.killed) {
          any = true;
          break;
        }
      if (!any || now >= closing_deadline_) {
        for (u32 i = 0; i < cl_.size(); ++i) kill(i, K_NONE);
        reap();
        phase_ = P_DONE;
      }
      break;
    }
    case P_DONE:
      break;
  }
}

void Loadgen::finish_hard(const char* why) {
  timed_out_ = std::string_view(why) == "deadline";
  stop_reason_ = why;
  std::fprintf(stderr, "rollcall-loadgen: stopping early (%s) in phase %d\n", why, static_cast<int>(phase_));
  if (phase_ == P_MEASURE) {  // close the window so that the orchestrator still gets a sample
    measure_end_ = now_ns();
    print_phase("phase measure-end");
  }
  phase_ = P_CLOSING;
  for (u32 i = 0; i < cl_.size(); ++i) kill(i, K_NONE);
  reap();
  phase_ = P_DONE;
}

void Loadgen::housekeeping() {
  u64 now = now_ns();
  // Ramp: start connections at --connect-rate, at most --max-pending handshakes in flight.
  if (phase_ == P_RAMP && !churn()) {
    u64 allowed = static_cast<u64>(static_cast<double>(now - ramp_t0_) / 1e9 * o_.connect_rate) + 1;
    while (started_ < o_.clients && started_ < allowed && pending_ < o_.max_pending) start_client(started_++);
  }
  // Churn restarts.
  std::size_t n = restart_q_.size();
  while (n-- > 0 && !restart_q_.empty() && restart_q_.front().second <= now && activity()) {
    u32 idx = restart_q_.front().first;
    restart_q_.pop_front();
    start_client(idx);
  }
  while (!connect_dl_.empty() && connect_dl_.front().at <= now) {
    Deadline d = connect_dl_.front();
    connect_dl_.pop_front();
    Client& c = cl_[d.idx];
    if (c.gen == d.gen && c.counted_pending && !c.killed) kill(d.idx, K_TIMEOUT);
  }
  while (!close_dl_.empty() && close_dl_.front().at <= now) {
    Deadline d = close_dl_.front();
    close_dl_.pop_front();
    Client& c = cl_[d.idx];
    if (c.gen == d.gen && c.st == S_CLOSING && !c.killed) kill(d.idx, c.we_close ? K_CLOSE_TIMEOUT : K_CLOSED);
  }
  reap();
  sender_tick();
  reap();
  next_phase_checks();
  reap();
}

int Loadgen::wait_timeout_ms() {
  u64 now = now_ns();
  u64 next = now + 100 * kMs;
  auto consider = [&](u64 t) {
    if (t < next) next = t;
  };
  if (phase_ == P_RAMP && !churn() && started_ < o_.clients && pending_ < o_.max_pending)
    consider(ramp_t0_ + static_cast<u64>(static_cast<double>(started_) / o_.connect_rate * 1e9));
  if (!restart_q_.empty()) consider(restart_q_.front().second);
  if (!connect_dl_.empty()) consider(connect_dl_.front().at);
  if (!close_dl_.empty()) consider(close_dl_.front().at);
  if (phase_ == P_WARMUP) consider(warm_end_);
  if (phase_ == P_MEASURE) consider(measure_target_);
  if (o_.scenario == Scenario::Broadcast && o_.rate > 0 && activity() && sender_ >= 0 && !o_.no_send)
    consider(pace_start_ + static_cast<u64>(static_cast<double>(pace_k_) * 1e9 / o_.rate));
  consider(hard_deadline_);
  if (next <= now) return 0;
  return static_cast<int>((next - now + kMs - 1) / kMs);
}

std::string fmt(double v, int prec = 3) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

void Loadgen::print_result() {
  double dur = measure_start_ != 0 && measure_end_ != ~0ULL ? static_cast<double>(measure_end_ - measure_start_) / 1e9 : 0;
  std::string r = "result {";
  auto add = [&](const std::string& k, const std::string& v) {
    if (r.back() != '{') r += ',';
    r += '"';
    r += k;
    r += "\":";
    r += v;
  };
  auto addu = [&](const std::string& k, u64 v) { add(k, std::to_string(v)); };
  add("scenario", "\"" + o_.scenario_name + "\"");
  addu("clients", o_.clients);
  addu("users", o_.users);
  addu("payload_bytes", o_.payload_bytes);
  add("duration_s", fmt(dur));
  add("warmup_s", fmt(o_.warmup));
  addu("nofile_limit", static_cast<u64>(nofile_));
  addu("source_ips", o_.sources.empty() ? 1 : o_.sources.size());
  add("timed_out", timed_out_ ? "true" : "false");
  if (!stop_reason_.empty()) add("stopped", "\"" + stop_reason_ + "\"");
  addu("connected", churn() ? ever_ready_ : connected_at_phase_);
  addu("connect_errors", connect_errors_);
  {
    std::string ek = "{";
    for (int k = 1; k < K_COUNT; ++k) {
      if (kind_counts_[k] == 0) continue;
      if (ek.size() > 1) ek += ',';
      ek += "\"" + std::string(kKindNames[k]) + "\":" + std::to_string(kind_counts_[k]);
    }
    ek += "}";
    add("errors_by_kind", ek);
  }
  const Histogram& hc = churn() ? h_churn_connect_ : h_connect_;
  add("connect_ms_p50", fmt(hc.percentile(50) / 1e6));
  add("connect_ms_p99", fmt(hc.percentile(99) / 1e6));
  add("connect_ms_max", fmt(static_cast<double>(hc.max()) / 1e6));
  if (!churn()) addu("disconnects", disconnects_);
  if (binary_frames_) addu("binary_frames", binary_frames_);
  switch (o_.scenario) {
    case Scenario::Idle:
      break;
    case Scenario::Broadcast: {
      u64 expected = win_emitted_ * receivers_;
      add("mode", o_.no_send ? "\"receive-only\"" : (o_.rate > 0 ? "\"paced\"" : "\"closed-loop\""));
      add("rate", fmt(o_.rate));
      addu("max_inflight", o_.max_inflight);
      addu("receivers", receivers_);
      addu("emitted", win_emitted_);
      add("emitted_per_s", fmt(dur > 0 ? static_cast<double>(win_emitted_) / dur : 0, 1));
      addu("delivered", win_delivered_);
      add("delivered_per_s", fmt(dur > 0 ? static_cast<double>(win_delivered_) / dur : 0, 1));
      addu("expected", expected);
      add("lost", std::to_string(static_cast<long long>(expected) - static_cast<long long>(win_delivered_)));
      add("latency_us_p50", fmt(h_lat_.percentile(50) / 1e3, 1));
      add("latency_us_p90", fmt(h_lat_.percentile(90) / 1e3, 1));
      add("latency_us_p99", fmt(h_lat_.percentile(99) / 1e3, 1));
      add("latency_us_max", fmt(static_cast<double>(h_lat_.max()) / 1e3, 1));
      addu("emitted_total", emitted_total_);
      addu("delivered_total", delivered_total_);
      if (emit_skipped_) addu("emit_skipped", emit_skipped_);
      if (emit_timeouts_) addu("emit_timeouts", emit_timeouts_);
      if (msg_unparsed_) addu("msg_unparsed", msg_unparsed_);
      break;
    }
    case Scenario::Echo:
    case Scenario::PollingEcho:
      addu("round_trips", round_trips_);
      add("rt_per_s", fmt(dur > 0 ? static_cast<double>(round_trips_) / dur : 0, 1));
      add("rtt_us_p50", fmt(h_rtt_.percentile(50) / 1e3, 1));
      add("rtt_us_p90", fmt(h_rtt_.percentile(90) / 1e3, 1));
      add("rtt_us_p99", fmt(h_rtt_.percentile(99) / 1e3, 1));
      add("rtt_us_max", fmt(static_cast<double>(h_rtt_.max()) / 1e3, 1));
      if (ack_mismatch_) addu("ack_mismatch", ack_mismatch_);
      break;
    case Scenario::Churn:
      addu("conns_per_user", o_.conns_per_user);
      addu("cycles", cycles_);
      add("cycles_per_s", fmt(dur > 0 ? static_cast<double>(cycles_) / dur : 0, 1));
      addu("errors", churn_errors_);
      addu("cycles_total", cycles_total_);
      addu("errors_total", churn_errors_total_);
      add("cycle_ms_p50", fmt(h_cycle_.percentile(50) / 1e6));
      add("cycle_ms_p99", fmt(h_cycle_.percentile(99) / 1e6));
      break;
  }
  r += "}";
  std::puts(r.c_str());
  std::fflush(stdout);
}

int Loadgen::run() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    nofile_ = rl.rlim_cur;
  }
  u64 need = u64{o_.clients} * (polling() ? 2 : 1);
  if (churn()) need = std::min<u64>(o_.clients, u64{o_.users} * o_.conns_per_user);
  std::fprintf(stderr, "rollcall-loadgen: scenario %s, %u clients, RLIMIT_NOFILE %llu%s\n", o_.scenario_name.c_str(),
               o_.clients, static_cast<unsigned long long>(nofile_),
               need + 16 > nofile_ ? " (too low for this many sockets: expect tcp errors)" : "");
  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  ep_ = epoll_create1(EPOLL_CLOEXEC);
  if (ep_ < 0) {
    std::perror("epoll_create1");
    return 1;
  }
  payload_.assign(o_.payload_bytes, 'x');
  u32 slots = o_.clients;
  if (churn()) slots = static_cast<u32>(std::min<u64>(o_.clients, u64{o_.users} * o_.conns_per_user));
  cl_.resize(slots);
  g_rng ^= now_ns() ^ (static_cast<u64>(getpid()) << 32);
  t0_ = ramp_t0_ = now_ns();
  double ramp_s = churn() ? 0 : static_cast<double>(o_.clients) / o_.connect_rate;
  hard_deadline_ = t0_ + static_cast<u64>((ramp_s + o_.warmup + o_.duration) * 1e9) + kHardSlack;

  epoll_event evs[1024];
  while (phase_ != P_DONE) {
    housekeeping();
    if (phase_ == P_DONE) break;
    int n = epoll_wait(ep_, evs, 1024, wait_timeout_ms());
    if (n < 0) {
      if (errno == EINTR) continue;
      std::perror("epoll_wait");
      break;
    }
    for (int i = 0; i < n; ++i) {
      on_event(evs[i].data.u64, evs[i].events);
      if (!kill_list_.empty()) reap();
    }
    if (o_.scenario == Scenario::Broadcast && o_.rate == 0) sender_tick();
  }
  if (phase_ != P_DONE) finish_hard("error");
  print_result();
  ::close(ep_);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse_options(argc, argv);
  Loadgen lg(std::move(o));
  return lg.run();
}

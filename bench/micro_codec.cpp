// Micro-benchmarks of the hot-path codecs: what one inbound event and one
// outbound broadcast cost before any I/O.
#include "engineio/packet.hpp"
#include "engineio/frame.hpp"
#include "socketio/packet.hpp"
#include "ws/frame.hpp"

#include <benchmark/benchmark.h>
#include <boost/json/parse.hpp>

#include <string>

namespace {

using namespace rollcall;

const std::string kEvent = R"(2["chat",{"text":"hello there","n":42,"tags":["a","b"]}])";
const std::string kAck = R"(2456["echo","0123456789012345678901234567890123456789012345678901234567890123"])";

void BM_SocketIoDecodeEvent(benchmark::State& state) {
  for (auto _ : state) {
    socketio::Packet p;
    auto err = socketio::decode(kEvent, p);
    benchmark::DoNotOptimize(err);
    benchmark::DoNotOptimize(p.data);
  }
}
BENCHMARK(BM_SocketIoDecodeEvent);

void BM_SocketIoDecodeEventWithAck(benchmark::State& state) {
  for (auto _ : state) {
    socketio::Packet p;
    auto err = socketio::decode(kAck, p);
    benchmark::DoNotOptimize(err);
  }
}
BENCHMARK(BM_SocketIoDecodeEventWithAck);

void BM_SocketIoEncodeEvent(benchmark::State& state) {
  socketio::Packet p;
  p.type = socketio::PacketType::event;
  p.data = boost::json::parse(R"(["msg","0123456789012345678901234567890123456789012345678901234567890123"])");
  std::string out;
  for (auto _ : state) {
    out.clear();
    socketio::encode(p, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_SocketIoEncodeEvent);

// A broadcast is encoded into one WebSocket frame shared by all recipients.
void BM_BroadcastFrame(benchmark::State& state) {
  socketio::Packet p;
  p.type = socketio::PacketType::event;
  p.data = boost::json::parse(R"(["msg","0123456789012345678901234567890123456789012345678901234567890123"])");
  for (auto _ : state) {
    std::string buf = frame_buffer(96);
    buf += '4';
    socketio::encode(p, buf);
    Frame f = make_frame(std::move(buf), false);
    benchmark::DoNotOptimize(f.buf);
  }
}
BENCHMARK(BM_BroadcastFrame);

void BM_EngineIoDecodePayload(benchmark::State& state) {
  std::string payload;
  for (int i = 0; i < 16; ++i) {
    if (i) payload += '\x1e';
    payload += "4" + kEvent;
  }
  for (auto _ : state) {
    std::vector<engineio::Packet> packets;
    auto err = engineio::decode_payload(payload, packets);
    benchmark::DoNotOptimize(err);
  }
  state.SetItemsProcessed(state.iterations() * 16);
}
BENCHMARK(BM_EngineIoDecodePayload);

struct NullHandler {
  std::size_t messages = 0;
  void on_message(ws::Opcode, std::string&&) { ++messages; }
  void on_ping(std::string_view) {}
  void on_pong(std::string_view) {}
  void on_close(std::uint16_t, std::string_view) {}
};

// Masked client frames as a browser sends them, 32 per read.
void BM_WebSocketParse(benchmark::State& state) {
  std::string payload = "4" + kEvent;
  std::string frame;
  frame += static_cast<char>(0x81);
  frame += static_cast<char>(0x80 | payload.size());
  const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
  frame.append(reinterpret_cast<const char*>(mask), 4);
  for (std::size_t i = 0; i < payload.size(); ++i) frame += static_cast<char>(payload[i] ^ mask[i % 4]);
  std::string read;
  for (int i = 0; i < 32; ++i) read += frame;
  ws::Parser parser(1 << 20);
  NullHandler h;
  for (auto _ : state) {
    auto err = parser.feed(read, h);
    benchmark::DoNotOptimize(err);
  }
  state.SetItemsProcessed(state.iterations() * 32);
}
BENCHMARK(BM_WebSocketParse);

}  // namespace

BENCHMARK_MAIN();

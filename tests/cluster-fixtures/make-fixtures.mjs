// Writes the msgpack fixtures of src/cluster/msgpack_codec_test.cpp: bytes
// that notepack.io 3 (the codec of @socket.io/redis-adapter 8 and
// @socket.io/redis-emitter 5) writes, or hand-made bytes that it decodes,
// each with what a Node server makes of them.
//
//   npm install --prefix /tmp/notepack-gen notepack.io@3.0.1
//   NOTEPACK_DIR=/tmp/notepack-gen node tests/cluster-fixtures/make-fixtures.mjs
//
// Outputs (paths from the repository root):
//   tests/cluster-fixtures/notepack_fixtures.inc   C++ initializers, one per fixture
//   fuzz/corpus/msgpack_fuzz/<name>.bin            seeds for fuzz/msgpack_fuzz.cpp
//
// Per fixture:
//   bytes       the msgpack bytes (hex): notepack.encode(value), or hand-made
//   json        JSON.stringify of notepack.decode(bytes) with every Buffer or
//               ArrayBuffer replaced by {"_placeholder":true,"num":i} (i in
//               order of appearance) and a top-level undefined written as null
//   attachments the binary values (hex), in that order
//   reencoded   notepack.encode(JSON.parse(json) with the placeholders turned
//               back into Buffers): what a Node server publishes for the value
//               that rollcall decodes
//   exact       false when the value holds an integer beyond 2^53: JSON.parse
//               in Node rounds it, rollcall keeps it exact, so the re-encoded
//               bytes may differ
// Long runs are shortened so the file stays small: (N*hh) in hex is byte hh
// repeated N times, {{N*c}} in JSON is the character c repeated N times.
import { createRequire } from 'node:module';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const base = process.env.NOTEPACK_DIR ? resolve(process.env.NOTEPACK_DIR) : join(root, 'tests/interop');
const require = createRequire(join(base, 'package.json'));
const notepack = require('notepack.io');
const notepackVersion = require('notepack.io/package.json').version;
if (!notepackVersion.startsWith('3.')) throw new Error(`notepack.io 3 expected, found ${notepackVersion}`);

const h = (s) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const cat = (...parts) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? h(p) : p)));
// str 8 of raw bytes (given as a latin1 string: one char per byte)
const rawStr = (s) => { const b = Buffer.from(s, 'latin1'); return cat('d9', Buffer.from([b.length]), b); };
const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const i64 = (n) => { const b = Buffer.alloc(8); b.writeBigInt64BE(BigInt(n)); return b; };
// msgpack timestamp extension (type -1) in its 64 and 96 bit forms
const ts64 = (sec, ns) => cat('d7ff', u32(((ns << 2) | Math.floor(sec / 2 ** 32)) >>> 0), u32(sec >>> 0));
const ts96 = (sec, ns) => cat('c70cff', u32(ns), i64(sec));

// [name, value] encodes value with notepack; [name, Buffer] is hand-made.
const fixtures = [
  // --- @socket.io/redis-adapter 8 messages, as RedisAdapter writes them
  ['msg.broadcast', ['RFZnLa', { type: 2, data: ['hello', 'world'], nsp: '/' },
    { rooms: [], except: [], flags: {} }]],
  ['msg.broadcast_binary', ['RFZnLa',
    { type: 2, data: ['file', Buffer.from([1, 2, 3]), { name: 'x.bin', blob: Buffer.from([0xff, 0x00]), parts: [Buffer.alloc(0)] }], nsp: '/chat' },
    { rooms: ['room1', 'room2'], except: ['GH2kWVN8aL9n6n0tAAAB'], flags: { volatile: true } }]],
  ['msg.broadcast_flags', ['Zk3pQa', { type: 2, data: ['tick', 1, 2.5, null, true], nsp: '/' },
    { rooms: ['a'], except: [], flags: { volatile: true, compress: false, local: true, broadcast: true, binary: true, timeout: 5000, expectSingleResponse: true } }]],
  ['msg.broadcast_flags_other_order', ['Zk3pQa', { type: 2, data: ['tick'], nsp: '/' },
    { rooms: [], except: ['b'], flags: { compress: true, timeout: 250, volatile: true, custom: 'kept' } }]],
  ['msg.broadcast_no_flags', ['Zk3pQa', { type: 2, data: ['x'], nsp: '/' },
    { rooms: [], except: [], flags: undefined }]],
  ['msg.broadcast_no_nsp', ['Zk3pQa', { type: 2, data: ['x'] }, { rooms: [], except: [], flags: {} }]],
  ['msg.broadcast_numeric_room', ['Zk3pQa', { type: 2, data: ['x'], nsp: '/' }, { rooms: [42, 'r'], except: [7], flags: {} }]],
  ['msg.broadcast_with_id', ['Zk3pQa', { type: 2, data: ['x'], nsp: '/', id: 12 }, { rooms: [], except: [], flags: {} }]],
  // @socket.io/redis-emitter 5: uid "emitter", flags before except
  ['msg.emitter', ['emitter', { type: 2, data: ['time', '2026-12-03'], nsp: '/' },
    { rooms: ['room42'], flags: {}, except: [] }]],
  // broadcast with acks (request type 7) and a client's ack (response type 9)
  ['msg.request7', { uid: 'RFZnLa', requestId: 'Xy12Ab', type: 7,
    packet: { type: 2, data: ['ping', Buffer.from([9, 8, 7])], nsp: '/' },
    opts: { rooms: ['room1'], except: [], flags: { timeout: 5000 } } }],
  ['msg.response9', { type: 9, requestId: 'Xy12Ab', packet: 'pong' }],
  ['msg.response9_binary', { type: 9, requestId: 'Xy12Ab', packet: { ok: true, data: Buffer.from('hi') } }],
  ['msg.response9_undefined', { type: 9, requestId: 'Xy12Ab', packet: undefined }],
  ['msg.response9_null', { type: 9, requestId: 'Xy12Ab', packet: null }],

  // --- scalars and size classes
  ['null', null],
  ['true', true],
  ['false', false],
  ['empty_array', []],
  ['empty_map', {}],
  ['empty_nested', [[], {}, [[]], { a: {} }, '']],
  ['uint_classes', [0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, 9007199254740991, 9007199254740992]],
  ['int_classes', [-1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649, -9007199254740991]],
  ['int_2p63', 2 ** 63],
  ['int_minus_2p63', -(2 ** 63)],
  ['int_2p64', 2 ** 64],
  ['floats', [1.5, -0.25, 0.1, 3.141592653589793, 1e300, -1e-300, 1e21, 5e-324, 123456.789]],
  ['minus_zero', -0],
  ['non_finite', [NaN, Infinity, -Infinity]],
  ['strings', ['', 'a', 'héllo wörld', '€', '𝄞', '日本語', 'line\nbreak "quoted" \\ \u0001']],
  ['str_31', 'x'.repeat(31)],
  ['str_32', 'x'.repeat(32)],
  ['str_255', 'y'.repeat(255)],
  ['str_256', 'y'.repeat(256)],
  ['str_65535', 'z'.repeat(65535)],
  ['str_65536', 'z'.repeat(65536)],
  ['str_multibyte_32', 'é'.repeat(16)],
  ['bin_classes', [Buffer.alloc(0), Buffer.from([0]), Buffer.alloc(255, 1), Buffer.alloc(256, 2), Buffer.alloc(65535, 3), Buffer.alloc(65536, 4)]],
  ['array_15', Array.from({ length: 15 }, (_, i) => i)],
  ['array_16', Array.from({ length: 16 }, (_, i) => i)],
  ['map_15', Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${i}`, i]))],
  ['map_16', Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i]))],
  ['nested', { a: { b: { c: [1, { d: [true, false, null] }] } }, e: 'f', g: [[1, 2], [3, [4, [5]]]] }],
  ['nested_binary', { user: { avatar: Buffer.from([0xde, 0xad]), thumbs: [Buffer.from([1]), Buffer.from([2])] }, after: Buffer.from([3]) }],
  ['integer_keys', { b: 1, 2: 2, a: 3, 1: 4, '4294967294': 5, '4294967295': 6, '01': 7, '-1': 8, 0: 9 }],
  ['undefined_in_map', { a: undefined, b: 1, c: undefined }],
  ['undefined_in_array', [1, undefined, 2]],
  ['dates', [new Date('2026-12-03T09:41:07.123Z'), new Date(0), new Date(-1), new Date('2200-01-01T00:00:00.000Z'),
    new Date('1900-06-15T12:00:00.500Z'), new Date('+275760-09-13T00:00:00.000Z'), new Date('-000001-01-01T00:00:00.000Z'),
    new Date(Date.UTC(10000, 0, 1))]],
  ['date_in_map', { at: new Date('2026-12-03T09:41:07.123Z'), n: 1 }],
  ['top_int', 42],
  ['top_str', 'hello'],
  ['top_float', 1.5],

  // --- hand-made bytes that notepack decodes (other encoders, old notepack)
  ['raw.uint64_max', h('cf ffffffffffffffff')],
  ['raw.int64_min', h('d3 8000000000000000')],
  ['raw.uint64_2p53_plus_1', h('cf 0020000000000001')],
  ['raw.float32', h('92 ca3fc00000 ca3dcccccd')],
  ['raw.float64_integral', h('93 cb4008000000000000 cb8000000000000000 cb43e0000000000000')],
  ['raw.float_nan_payload', h('92 cbfff8000000000001 ca7fc00000')],
  ['raw.noncanonical_ints', h('99 cc05 cd0005 ce00000005 cf0000000000000005 d005 d0fb d1fffb d2fffffffb d3fffffffffffffffb')],
  ['raw.noncanonical_sizes', h('94 d903616263 da0003616263 db00000003616263 c50002abcd')],
  ['raw.noncanonical_containers', h('93 dc000101 dd0000000102 de0001a16103')],
  ['raw.undefined_top', h('d40000')],
  ['raw.undefined_in_map', h('82 a161 d40000 a162 01')],
  ['raw.undefined_in_array', h('93 01 d40000 02')],
  ['raw.undefined_overrides_key', h('82 a161 01 a161 d40000')],
  ['raw.duplicate_keys', h('83 a161 01 a162 02 a161 03')],
  ['raw.proto_key_object', cat('82 a9', Buffer.from('__proto__'), '81 a178 01 a162 02')],
  ['raw.proto_key_scalar', cat('82 a9', Buffer.from('__proto__'), '05 a162 02')],
  ['raw.integer_keys', h('84 a162 01 a132 02 a161 03 a131 04')],
  ['raw.ts32', h('92 d6ff00000000 d6ff69328c13')],
  ['raw.ts64', cat('93', ts64(1796290867, 123000000), ts64(3 * 2 ** 32, 0), ts64(0, 999999999))],
  ['raw.ts64_ns_over_1e9', ts64(0, 0x3fffffff)],
  ['raw.ts96', cat('95', ts96(-1, 0), ts96(0, 999999999), ts96(9999999999, 0), ts96(-(2 ** 40), 5e8), ts96(-62198755200, 1))],
  ['raw.ts96_out_of_range', cat('93', ts96(2 ** 44, 0), ts96(-(2 ** 44), 0), ts96(8640000000000, 1000000))],
  ['raw.ts96_ns_rounding', cat('92', ts96(1e12, 999999999), ts96(-1e12, 999999999))],
  ['raw.legacy_date', cat('92 d700', i64(1764920339091), 'd700', i64(-1))],
  ['raw.ext_arraybuffer', h('93 c70300010203 c8000200abcd c90000000100ee')],
  ['raw.invalid_utf8', cat('98', ...['\xff', 'a\xc3', '\xed\xa0\x80', '\xf0\x9f\x98', '\xe0\x80\x80', '\xc0\xaf',
    '\xf4\x90\x80\x80', 'ok\xe2\x82\xacok'].map(rawStr))],
  ['raw.invalid_utf8_key', cat('81', rawStr('k\xff'), '01')],
  ['raw.fixext1_undefined_payload', h('92 d400ff 01')],
];

// The fuzzer's seeds: the adapter's messages and the unusual forms.
const corpusNames = new Set(['msg.broadcast', 'msg.broadcast_binary', 'msg.broadcast_flags', 'msg.emitter',
  'msg.request7', 'msg.response9_binary', 'msg.response9_undefined', 'nested_binary', 'integer_keys', 'dates',
  'uint_classes', 'floats', 'raw.ts96', 'raw.ext_arraybuffer', 'raw.undefined_in_map', 'raw.invalid_utf8']);

const isBinary = (v) => Buffer.isBuffer(v) || v instanceof ArrayBuffer;

// Node's view of a decoded value: JSON semantics, binary as placeholders.
function toExpected(value, attachments) {
  if (isBinary(value)) {
    attachments.push(Buffer.from(value).toString('hex'));
    return { _placeholder: true, num: attachments.length - 1 };
  }
  if (Array.isArray(value)) {
    return value.map((v) => (v === undefined ? null : toExpected(v, attachments)));
  }
  if (value instanceof Date) return value.toJSON();
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (value !== null && typeof value === 'object') {
    const out = {};
    for (const k of Object.keys(value)) {
      if (value[k] !== undefined) out[k] = toExpected(value[k], attachments);
    }
    return out;
  }
  return value === undefined ? null : value;
}

function restoreBinary(value, attachments) {
  if (Array.isArray(value)) return value.map((v) => restoreBinary(v, attachments));
  if (value !== null && typeof value === 'object') {
    if (value._placeholder === true && typeof value.num === 'number') return Buffer.from(attachments[value.num], 'hex');
    const out = {};
    for (const k of Object.keys(value)) out[k] = restoreBinary(value[k], attachments);
    return out;
  }
  return value;
}

function hasBigInteger(value) {
  if (typeof value === 'number') return Number.isInteger(value) && Math.abs(value) > 2 ** 53;
  if (Array.isArray(value)) return value.some(hasBigInteger);
  if (value !== null && typeof value === 'object' && !isBinary(value) && !(value instanceof Date)) {
    return Object.values(value).some(hasBigInteger);
  }
  return false;
}

const shortHex = (hex) => hex.replace(/((..))\2{31,}/g, (run, _a, byte) => `(${run.length / 2}*${byte})`);
// Only runs of x, y, z and U+FFFD-free ASCII letters used above are shortened.
const shortJson = (json) => json.replace(/([xyz])\1{31,}/g, (run, c) => `{{${run.length}*${c}}}`);

const seen = new Set();
const lines = [];
const corpus = [];
for (const [name, input] of fixtures) {
  if (seen.has(name)) throw new Error(`duplicate fixture ${name}`);
  seen.add(name);
  const raw = Buffer.isBuffer(input) && name.startsWith('raw.');
  const bytes = raw ? input : notepack.encode(input);
  const decoded = notepack.decode(bytes);
  const attachments = [];
  const expected = toExpected(decoded, attachments);
  const json = JSON.stringify(expected);
  const reencoded = notepack.encode(restoreBinary(JSON.parse(json), attachments));
  const exact = !hasBigInteger(decoded);
  if (json.includes(')__"')) throw new Error(`${name}: JSON cannot go into a raw string literal`);
  lines.push(`{"${name}", "${shortHex(bytes.toString('hex'))}",\n R"__(${shortJson(json)})__",\n {${attachments.map((a) => `"${shortHex(a)}"`).join(', ')}},\n "${shortHex(reencoded.toString('hex'))}", ${exact}},`);
  if (corpusNames.has(name)) corpus.push([name, bytes]);
}

const header = `// Generated by tests/cluster-fixtures/make-fixtures.mjs (notepack.io ${notepackVersion}, Node ${process.version}).
// Do not edit: change the generator and run it again. Fields: name, msgpack bytes (hex),
// Node's JSON view, attachments (hex), notepack's bytes for that JSON view, exact.
// (N*hh) = byte hh N times; {{N*c}} = character c N times.
`;
writeFileSync(join(here, 'notepack_fixtures.inc'), header + lines.join('\n') + '\n');

const corpusDir = join(root, 'fuzz/corpus/msgpack_fuzz');
mkdirSync(corpusDir, { recursive: true });
for (const f of readdirSync(corpusDir)) rmSync(join(corpusDir, f));
for (const [name, bytes] of corpus) writeFileSync(join(corpusDir, `${name}.bin`), bytes);
if (corpus.length !== corpusNames.size) throw new Error('a corpus fixture is missing');
console.log(`${lines.length} fixtures, ${corpus.length} corpus files`);

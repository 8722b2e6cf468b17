/*
 * floor_server.c: the "kernel floor" for the rollcall benchmarks.
 *
 * The least work a Socket.IO server can do for the bench behaviour while
 * still speaking the protocol: one thread, one epoll set, Engine.IO v4 over
 * WebSocket only (no polling, no upgrade), the default namespace only, no
 * rooms (every connected socket is in "all"), no JSON parsing beyond finding
 * the event name. A broadcast builds its frame ONCE and does one send() per
 * connected client, in connection order, without coalescing; when a send()
 * is short the rest waits in a per-connection pending buffer flushed on
 * EPOLLOUT (later frames for that client are appended to it, so order is
 * kept). Whatever a real server spends above this is its own overhead.
 *
 *   gcc -O2 -Wall -o floor_server bench/floor_server.c -lcrypto
 *   floor_server --listen 127.0.0.1:PORT      (port 0 picks a free one)
 *
 * Prints "listening <port>" once it accepts connections; exits 0 on SIGTERM
 * or SIGINT.
 *
 * Protocol handled:
 *   GET <path>?EIO=4&transport=websocket + Upgrade: websocket
 *       -> 101 with Sec-WebSocket-Accept, then the open packet
 *          0{"sid":"...","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}
 *   any other HTTP request -> 400 {"code":3,"message":"Bad request"}, closed
 *   40 / 40{auth}          -> 40{"sid":"<id>"}, the socket joins "all"
 *   40/nsp,...             -> 44/nsp,{"message":"Invalid namespace"}
 *   41                     -> the socket leaves "all"
 *   42["bcast",<d>]        -> 42["msg",<d>] to every connected socket
 *   42<id>["echo",<d>]     -> 43<id>[<d>] to the sender
 *   2 (EIO ping), 3 (pong), 6 (noop): ignored;  1 (close): closed
 *   WebSocket ping -> pong; close -> close; fragmented or binary messages,
 *   unmasked frames and messages above maxPayload close the connection.
 * An Engine.IO ping "2" goes to every open connection every 25 s; pongs are
 * not checked (no heartbeat timeout).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAYLOAD 1000000u
#define MAX_HTTP_HEADER 16384u
#define MAX_PENDING (16u * 1024u * 1024u) /* per connection, then closed */
#define READ_BUF (64u * 1024u)
#define PING_INTERVAL_S 25
#define MAX_EVENTS 512

enum { ST_HTTP, ST_WS };

struct conn {
  int fd;
  int state;
  int dead;             /* closed, freed at the end of the loop iteration */
  int want_out;         /* EPOLLOUT registered */
  int after_write_close;/* close once pending is flushed (HTTP 400, WS close) */
  long joined;          /* index in g_joined, -1 if not in "all" */
  long opened;          /* index in g_open, -1 before the upgrade */
  char *in;             /* unconsumed input (HTTP header or partial frame) */
  size_t in_len, in_cap;
  char *out;            /* pending output */
  size_t out_off, out_len, out_cap;
  struct conn *next_dead;
};

static int g_ep = -1;
static struct conn **g_joined; /* sockets in "all" */
static size_t g_njoined, g_capjoined;
static struct conn **g_open;   /* WebSocket connections (for pings) */
static size_t g_nopen, g_capopen;
static struct conn *g_dead;
static char g_rbuf[READ_BUF];
static uint64_t g_rng;
static unsigned long long g_sid_counter;

/* ---------- small helpers ---------- */

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (!q) {
    fputs("out of memory\n", stderr);
    exit(1);
  }
  return q;
}

static uint64_t rng_next(void) { /* xorshift64*, seeded from /dev/urandom */
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return g_rng * 2685821657736338717ull;
}

static void make_id(char *dst, size_t n) { /* n chars of [A-Za-z0-9_-] */
  static const char al[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint64_t r = rng_next() ^ (++g_sid_counter * 0x9E3779B97F4A7C15ull);
  for (size_t i = 0; i < n; ++i) {
    if (i % 10 == 9) r = rng_next();
    dst[i] = al[r & 63];
    r >>= 6;
  }
}

static size_t ws_header(unsigned char *h, size_t len) { /* text, FIN, unmasked */
  h[0] = 0x81;
  if (len < 126) {
    h[1] = (unsigned char)len;
    return 2;
  }
  if (len < 65536) {
    h[1] = 126;
    h[2] = (unsigned char)(len >> 8);
    h[3] = (unsigned char)len;
    return 4;
  }
  h[1] = 127;
  for (int i = 0; i < 8; ++i) h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
  return 10;
}

/* ---------- connection bookkeeping ---------- */

static void ep_mod(struct conn *c, int out) {
  struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
  if (epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &ev) == 0) c->want_out = out;
}

static void join_all(struct conn *c) {
  if (c->joined >= 0) return;
  if (g_njoined == g_capjoined) {
    g_capjoined = g_capjoined ? g_capjoined * 2 : 1024;
    g_joined = xrealloc(g_joined, g_capjoined * sizeof *g_joined);
  }
  c->joined = (long)g_njoined;
  g_joined[g_njoined++] = c;
}

static void leave_all(struct conn *c) { /* swap-remove */
  if (c->joined < 0) return;
  size_t i = (size_t)c->joined;
  struct conn *last = g_joined[--g_njoined];
  g_joined[i] = last;
  last->joined = (long)i;
  c->joined = -1;
}

static void open_add(struct conn *c) {
  if (g_nopen == g_capopen) {
    g_capopen = g_capopen ? g_capopen * 2 : 1024;
    g_open = xrealloc(g_open, g_capopen * sizeof *g_open);
  }
  c->opened = (long)g_nopen;
  g_open[g_nopen++] = c;
}

static void open_remove(struct conn *c) { /* swap-remove */
  if (c->opened < 0) return;
  size_t i = (size_t)c->opened;
  struct conn *last = g_open[--g_nopen];
  g_open[i] = last;
  last->opened = (long)i;
  c->opened = -1;
}

/* Close now (fd, indexes); free at the end of the loop iteration, because a
   later event of the same epoll_wait batch may still point at it. */
static void conn_close(struct conn *c) {
  if (c->dead) return;
  c->dead = 1;
  leave_all(c);
  open_remove(c);
  close(c->fd);
  c->fd = -1;
  c->next_dead = g_dead;
  g_dead = c;
}

static void free_dead(void) {
  while (g_dead) {
    struct conn *c = g_dead;
    g_dead = c->next_dead;
    free(c->in);
    free(c->out);
    free(c);
  }
}

static void pending_append(struct conn *c, const char *p, size_t n) {
  if (c->out_off > 0 && c->out_off == c->out_len) c->out_off = c->out_len = 0;
  if (c->out_len - c->out_off + n > MAX_PENDING) { /* slow consumer */
    conn_close(c);
    return;
  }
  if (c->out_len + n > c->out_cap) {
    if (c->out_off > 0) { /* compact first */
      memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
      c->out_len -= c->out_off;
      c->out_off = 0;
    }
    if (c->out_len + n > c->out_cap) {
      size_t cap = c->out_cap ? c->out_cap : 4096;
      while (cap < c->out_len + n) cap *= 2;
      c->out = xrealloc(c->out, cap);
      c->out_cap = cap;
    }
  }
  memcpy(c->out + c->out_len, p, n);
  c->out_len += n;
}

/* One send() for a complete buffer; the unsent rest goes to pending. */
static void conn_send(struct conn *c, const char *p, size_t n) {
  if (c->dead) return;
  if (c->out_len > c->out_off) { /* keep order behind what is pending */
    pending_append(c, p, n);
    return;
  }
  ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (w < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      conn_close(c);
      return;
    }
    w = 0;
  }
  if ((size_t)w < n) {
    pending_append(c, p + w, n - (size_t)w);
    if (!c->dead && !c->want_out) ep_mod(c, 1);
  }
}

static void conn_flush(struct conn *c) {
  while (c->out_len > c->out_off) {
    ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return; /* stay on EPOLLOUT */
      conn_close(c);
      return;
    }
    c->out_off += (size_t)w;
  }
  c->out_off = c->out_len = 0;
  if (c->out_cap > 65536) { /* give back a burst's buffer */
    free(c->out);
    c->out = NULL;
    c->out_cap = 0;
  }
  if (c->after_write_close) {
    conn_close(c);
    return;
  }
  if (c->want_out) ep_mod(c, 0);
}

/* A text frame holding an Engine.IO packet built from up to three parts. */
static void send_text(struct conn *c, const char *a, size_t an, const char *b, size_t bn,
                      const char *d, size_t dn) {
  size_t len = an + bn + dn;
  char stackbuf[512];
  char *f = len + 10 <= sizeof stackbuf ? stackbuf : xrealloc(NULL, len + 10);
  size_t h = ws_header((unsigned char *)f, len);
  memcpy(f + h, a, an);
  if (bn) memcpy(f + h + an, b, bn);
  if (dn) memcpy(f + h + an + bn, d, dn);
  conn_send(c, f, h + len);
  if (f != stackbuf) free(f);
}

/* ---------- Socket.IO ---------- */

static const char *skip_ws(const char *p, const char *e) {
  while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
  return p;
}

/* p..e is a Socket.IO packet (the Engine.IO "4" already removed). */
static void on_socketio(struct conn *c, const char *p, const char *e) {
  if (p >= e) return;
  char type = *p++;
  if (type == '0') { /* CONNECT */
    if (p < e && *p == '/') {
      const char *comma = memchr(p, ',', (size_t)(e - p));
      const char *ne = comma ? comma : e;
      static const char msg[] = ",{\"message\":\"Invalid namespace\"}";
      send_text(c, "44", 2, p, (size_t)(ne - p), msg, sizeof msg - 1);
      return;
    }
    if (c->joined >= 0) return; /* already connected */
    char reply[32] = "40{\"sid\":\"";
    make_id(reply + 10, 20);
    memcpy(reply + 30, "\"}", 2);
    send_text(c, reply, 32, NULL, 0, NULL, 0);
    join_all(c);
    return;
  }
  if (type == '1') { /* DISCONNECT */
    leave_all(c);
    return;
  }
  if (type != '2' || c->joined < 0) return; /* only events of connected sockets */
  if (p < e && *p == '/') return;           /* another namespace: not served */
  const char *id = p;
  while (p < e && *p >= '0' && *p <= '9') ++p;
  size_t idlen = (size_t)(p - id);
  p = skip_ws(p, e);
  if (p >= e || *p != '[') return;
  p = skip_ws(p + 1, e);
  int bcast;
  if (e - p >= 7 && memcmp(p, "\"bcast\"", 7) == 0) {
    bcast = 1;
    p += 7;
  } else if (e - p >= 6 && memcmp(p, "\"echo\"", 6) == 0) {
    bcast = 0;
    p += 6;
  } else {
    return;
  }
  p = skip_ws(p, e);
  /* data: everything between the comma and the array's closing bracket */
  const char *end = e;
  while (end > p && end[-1] != ']') --end;
  if (end <= p) return;
  --end; /* at ']' */
  const char *data = p, *dend = p;
  if (*p == ',') {
    data = skip_ws(p + 1, end);
    dend = end;
    while (dend > data && (dend[-1] == ' ' || dend[-1] == '\n' || dend[-1] == '\r' ||
                           dend[-1] == '\t'))
      --dend;
  }
  size_t dn = (size_t)(dend - data);

  if (bcast) {
    /* build the frame once: 42["msg",<data>] or 42["msg"] */
    static const char pre[] = "42[\"msg\"";
    size_t len = (sizeof pre - 1) + (dn ? 1 + dn : 0) + 1;
    char stackbuf[4096];
    char *f = len + 10 <= sizeof stackbuf ? stackbuf : xrealloc(NULL, len + 10);
    size_t h = ws_header((unsigned char *)f, len);
    char *q = f + h;
    memcpy(q, pre, sizeof pre - 1);
    q += sizeof pre - 1;
    if (dn) {
      *q++ = ',';
      memcpy(q, data, dn);
      q += dn;
    }
    *q++ = ']';
    size_t n = h + len;
    /* conn_send may close a recipient (swap-remove from g_joined): walk from
       the end so a removal never skips or repeats anyone. */
    for (size_t i = g_njoined; i-- > 0;) {
      if (i >= g_njoined) continue;
      conn_send(g_joined[i], f, n);
    }
    if (f != stackbuf) free(f);
    return;
  }
  if (idlen == 0) return; /* echo without an ack: nothing to answer */
  /* 43<id>[<data>] */
  size_t len = 2 + idlen + 2 + dn;
  char stackbuf[4096];
  char *f = len + 10 <= sizeof stackbuf ? stackbuf : xrealloc(NULL, len + 10);
  size_t h = ws_header((unsigned char *)f, len);
  char *q = f + h;
  *q++ = '4';
  *q++ = '3';
  memcpy(q, id, idlen);
  q += idlen;
  *q++ = '[';
  memcpy(q, data, dn);
  q += dn;
  *q++ = ']';
  conn_send(c, f, h + len);
  if (f != stackbuf) free(f);
}

static void on_message(struct conn *c, const char *p, size_t n) {
  if (n == 0) return;
  switch (p[0]) {
  case '4': on_socketio(c, p + 1, p + n); break;
  case '1': conn_close(c); break;
  default: break; /* 2 ping, 3 pong, 6 noop, 5 upgrade: nothing to do */
  }
}

/* ---------- WebSocket ---------- */

static void ws_close(struct conn *c, unsigned code) {
  unsigned char f[4] = {0x88, 2, (unsigned char)(code >> 8), (unsigned char)code};
  c->after_write_close = 1;
  conn_send(c, (const char *)f, sizeof f);
  if (!c->dead && c->out_len == c->out_off) conn_close(c);
}

/* Parse complete frames in buf[0..n); returns bytes consumed. */
static size_t ws_parse(struct conn *c, unsigned char *buf, size_t n) {
  size_t off = 0;
  while (!c->dead && !c->after_write_close) {
    unsigned char *b = buf + off;
    size_t avail = n - off;
    if (avail < 2) break;
    int fin = b[0] & 0x80, op = b[0] & 0x0f, masked = b[1] & 0x80;
    uint64_t len = b[1] & 0x7f;
    size_t h = 2;
    if (len == 126) {
      if (avail < 4) break;
      len = ((uint64_t)b[2] << 8) | b[3];
      h = 4;
    } else if (len == 127) {
      if (avail < 10) break;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | b[2 + i];
      h = 10;
    }
    if (!masked || (b[0] & 0x70)) {
      ws_close(c, 1002);
      break;
    }
    if (len > MAX_PAYLOAD) {
      ws_close(c, 1009);
      break;
    }
    if (avail < h + 4 + len) break;
    unsigned char *mask = b + h, *pl = b + h + 4;
    for (uint64_t i = 0; i < len; ++i) pl[i] ^= mask[i & 3];
    off += h + 4 + (size_t)len;
    if (!fin || op == 0 || op == 2) { /* fragmented or binary: not supported */
      ws_close(c, 1003);
      break;
    }
    if (op == 1) {
      on_message(c, (const char *)pl, (size_t)len);
    } else if (op == 8) {
      ws_close(c, 1000);
    } else if (op == 9) {
      if (len <= 125) {
        unsigned char f[2 + 125];
        f[0] = 0x8a;
        f[1] = (unsigned char)len;
        memcpy(f + 2, pl, (size_t)len);
        conn_send(c, (const char *)f, 2 + (size_t)len);
      }
    } /* op 10 pong: ignored */
  }
  return off;
}

/* ---------- HTTP upgrade ---------- */

static const char *find_header(const char *hdr, const char *end, const char *name,
                               size_t *vlen) {
  size_t nl = strlen(name);
  const char *p = memchr(hdr, '\n', (size_t)(end - hdr)); /* skip request line */
  while (p && p + 1 < end) {
    const char *line = p + 1;
    const char *eol = memchr(line, '\n', (size_t)(end - line));
    if (!eol) break;
    if ((size_t)(eol - line) > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
      const char *v = line + nl + 1, *ve = eol;
      while (v < ve && (*v == ' ' || *v == '\t')) ++v;
      while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) --ve;
      *vlen = (size_t)(ve - v);
      return v;
    }
    p = eol;
  }
  return NULL;
}

static void http_bad(struct conn *c) {
  static const char body[] = "{\"code\":3,\"message\":\"Bad request\"}";
  char resp[256];
  int n = snprintf(resp, sizeof resp,
                   "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                   sizeof body - 1, body);
  c->after_write_close = 1;
  conn_send(c, resp, (size_t)n);
  if (!c->dead && c->out_len == c->out_off) conn_close(c);
}

/* Returns bytes consumed (the header) or 0 if incomplete. */
static size_t http_parse(struct conn *c, char *buf, size_t n) {
  char *end = memmem(buf, n, "\r\n\r\n", 4);
  if (!end) {
    if (n > MAX_HTTP_HEADER) http_bad(c);
    return 0;
  }
  size_t hlen = (size_t)(end - buf) + 4;
  const char *eol = memchr(buf, '\n', hlen);
  size_t klen = 0, ulen = 0;
  const char *key = find_header(buf, end + 2, "Sec-WebSocket-Key", &klen);
  const char *upg = find_header(buf, end + 2, "Upgrade", &ulen);
  if (n < 4 || memcmp(buf, "GET ", 4) != 0 || !eol || !key || klen == 0 || klen > 64 ||
      !upg || ulen != 9 || strncasecmp(upg, "websocket", 9) != 0 ||
      !memmem(buf, (size_t)(eol - buf), "transport=websocket", 19) ||
      !memmem(buf, (size_t)(eol - buf), "EIO=4", 5)) {
    http_bad(c);
    return hlen;
  }
  /* Sec-WebSocket-Accept = base64(SHA1(key + GUID)) */
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  char cat[64 + sizeof guid];
  memcpy(cat, key, klen);
  memcpy(cat + klen, guid, sizeof guid - 1);
  unsigned char sha[SHA_DIGEST_LENGTH];
  SHA1((const unsigned char *)cat, klen + sizeof guid - 1, sha);
  char accept[64];
  EVP_EncodeBlock((unsigned char *)accept, sha, SHA_DIGEST_LENGTH);

  char sid[21];
  make_id(sid, 20);
  sid[20] = 0;
  char open_pkt[160];
  int on = snprintf(open_pkt, sizeof open_pkt,
                    "0{\"sid\":\"%s\",\"upgrades\":[],\"pingInterval\":%d000,"
                    "\"pingTimeout\":20000,\"maxPayload\":%u}",
                    sid, PING_INTERVAL_S, MAX_PAYLOAD);
  char resp[512];
  int rn = snprintf(resp, sizeof resp,
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                    accept);
  size_t h = ws_header((unsigned char *)resp + rn, (size_t)on);
  memcpy(resp + rn + h, open_pkt, (size_t)on);
  c->state = ST_WS;
  open_add(c);
  conn_send(c, resp, (size_t)rn + h + (size_t)on); /* handshake + open in one send */
  return hlen;
}

/* ---------- reading ---------- */

static void keep_tail(struct conn *c, const char *p, size_t n) {
  if (n == 0) {
    if (c->in_cap > 65536) { /* drop a large message's buffer */
      free(c->in);
      c->in = NULL;
      c->in_cap = 0;
    }
    c->in_len = 0;
    return;
  }
  if (n > c->in_cap) {
    size_t cap = c->in_cap ? c->in_cap : 1024;
    while (cap < n) cap *= 2;
    char *q = xrealloc(NULL, cap);
    memcpy(q, p, n);
    free(c->in);
    c->in = q;
    c->in_cap = cap;
  } else {
    memmove(c->in, p, n);
  }
  c->in_len = n;
}

static void consume(struct conn *c, char *buf, size_t n) {
  size_t off = 0;
  if (c->state == ST_HTTP) {
    off = http_parse(c, buf, n);
    if (off == 0 || c->dead || c->state != ST_WS) {
      if (!c->dead && off == 0) keep_tail(c, buf, n);
      return;
    }
  }
  if (c->dead) return;
  off += ws_parse(c, (unsigned char *)buf + off, n - off);
  if (!c->dead) keep_tail(c, buf + off, n - off);
}

static void on_readable(struct conn *c) {
  for (int rounds = 0; rounds < 4 && !c->dead; ++rounds) {
    ssize_t r;
    if (c->in_len == 0) { /* common case: parse in place in the shared buffer */
      r = recv(c->fd, g_rbuf, sizeof g_rbuf, 0);
      if (r > 0) consume(c, g_rbuf, (size_t)r);
    } else { /* a partial frame is waiting: grow its buffer and read behind it */
      size_t need = c->in_len + READ_BUF;
      if (need > c->in_cap) {
        size_t cap = c->in_cap;
        while (cap < need) cap *= 2;
        c->in = xrealloc(c->in, cap);
        c->in_cap = cap;
      }
      r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
      if (r > 0) {
        size_t total = c->in_len + (size_t)r;
        c->in_len = 0;
        consume(c, c->in, total); /* keep_tail memmoves within c->in */
      }
    }
    if (r == 0) {
      conn_close(c);
      return;
    }
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      conn_close(c);
      return;
    }
    if ((size_t)r < READ_BUF) return; /* drained (level-triggered anyway) */
  }
}

/* ---------- main ---------- */

static void ping_all(void) {
  static const unsigned char ping[3] = {0x81, 1, '2'};
  for (size_t i = g_nopen; i-- > 0;) {
    if (i >= g_nopen) continue;
    conn_send(g_open[i], (const char *)ping, sizeof ping);
  }
}

static void usage(void) {
  fputs("usage: floor_server --listen HOST:PORT\n", stderr);
  exit(2);
}

int main(int argc, char **argv) {
  const char *listen_arg = "127.0.0.1:0";
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
      listen_arg = argv[++i];
    else
      usage();
  }
  char host[64];
  const char *colon = strrchr(listen_arg, ':');
  if (!colon || (size_t)(colon - listen_arg) >= sizeof host) usage();
  memcpy(host, listen_arg, (size_t)(colon - listen_arg));
  host[colon - listen_arg] = 0;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) usage();

  {
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd < 0 || read(fd, &g_rng, sizeof g_rng) != sizeof g_rng) g_rng = (uint64_t)time(NULL);
    if (fd >= 0) close(fd);
    g_rng |= 1;
  }

  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (lfd < 0) die("socket");
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    fprintf(stderr, "cannot listen on %s: %s\n", listen_arg, strerror(errno));
    return 1;
  }
  if (listen(lfd, SOMAXCONN) < 0) die("listen");
  socklen_t sl = sizeof sa;
  getsockname(lfd, (struct sockaddr *)&sa, &sl);

  sigset_t ss;
  sigemptyset(&ss);
  sigaddset(&ss, SIGTERM);
  sigaddset(&ss, SIGINT);
  sigprocmask(SIG_BLOCK, &ss, NULL);
  signal(SIGPIPE, SIG_IGN);
  int sfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (sfd < 0 || tfd < 0) die("signalfd/timerfd");
  struct itimerspec its = {.it_interval = {PING_INTERVAL_S, 0}, .it_value = {PING_INTERVAL_S, 0}};
  timerfd_settime(tfd, 0, &its, NULL);

  g_ep = epoll_create1(EPOLL_CLOEXEC);
  if (g_ep < 0) die("epoll_create1");
  /* the three service fds are told apart by these sentinel pointers */
  static char tag_listen, tag_signal, tag_timer;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &tag_listen};
  epoll_ctl(g_ep, EPOLL_CTL_ADD, lfd, &ev);
  ev.data.ptr = &tag_signal;
  epoll_ctl(g_ep, EPOLL_CTL_ADD, sfd, &ev);
  ev.data.ptr = &tag_timer;
  epoll_ctl(g_ep, EPOLL_CTL_ADD, tfd, &ev);

  printf("listening %u\n", (unsigned)ntohs(sa.sin_port));
  fflush(stdout);

  struct epoll_event evs[MAX_EVENTS];
  for (;;) {
    int n = epoll_wait(g_ep, evs, MAX_EVENTS, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      void *tag = evs[i].data.ptr;
      if (tag == &tag_listen) {
        for (int k = 0; k < 256; ++k) { /* bounded per wakeup */
          int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break; /* EAGAIN, or EMFILE: retried on the next wakeup */
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct conn *c = calloc(1, sizeof *c);
          if (!c) {
            close(fd);
            continue;
          }
          c->fd = fd;
          c->joined = -1;
          c->opened = -1;
          struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
          if (epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &cev) < 0) {
            close(fd);
            free(c);
          }
        }
      } else if (tag == &tag_signal) {
        close(lfd);
        return 0; /* the kernel closes every connection */
      } else if (tag == &tag_timer) {
        uint64_t exp;
        if (read(tfd, &exp, sizeof exp) == sizeof exp) ping_all();
      } else {
        struct conn *c = tag;
        if (c->dead) continue;
        if (evs[i].events & EPOLLOUT) conn_flush(c);
        if (!c->dead && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) on_readable(c);
      }
    }
    free_dead();
  }
}

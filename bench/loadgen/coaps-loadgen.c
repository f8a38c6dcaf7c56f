/*
 * CoAPs load generator for bench/coaps.ts: many DTLS 1.2 client sessions (OpenSSL) in one
 * process, one connected non-blocking UDP socket per session (a server tells sessions apart by
 * source address:port), one epoll loop on one thread. Written in C because a server near 35k
 * requests/s on a 2-core machine cannot be driven by a generator that itself costs a core per
 * 10k requests; the same binary drives both servers, so the comparison is like for like.
 *
 * Compiled by bench/lib/loadgen.ts into a temporary directory at bench time (never committed):
 *   gcc -O2 -o coaps-loadgen coaps-loadgen.c -lssl -lcrypto
 *
 * Modes (all loopback; every loop ends by itself):
 *   rps   N sessions, each keeping DEPTH CON GETs outstanding; WARMUP s, then SECONDS s measured.
 *   hs    CONC concurrent full handshakes (no tickets, no resumption), each closed with
 *         close_notify once done and replaced by a fresh one on a fresh socket; WARMUP + SECONDS.
 *   idle  establishes N sessions, prints a line, waits for a line (or EOF) on stdin, closes them.
 * Suites: psk, ecdhe (DTLS), or none: plain CoAP over UDP (NoSec, rps only), to measure what a
 * server costs without DTLS — and what a bare UDP responder costs, the ceiling of its runtime.
 * Output: one JSON object per line on stdout; "measure_start" marks the start of the measured
 * window so the caller can sample the server's CPU over the same interval.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEPTH 64
#define HS_GIVE_UP_S 10.0
#define REQ_TIMEOUT_S 2.0

enum { FREE = 0, HANDSHAKING, ESTABLISHED };

typedef struct {
  uint16_t mid;
  uint32_t token;
  double sent;
  int busy;
} slot_t;

typedef struct {
  int fd;
  SSL *ssl;
  int state;
  double hs_start;
  uint16_t next_mid;
  uint32_t next_token;
  int outstanding;
  slot_t slots[MAX_DEPTH];
} session_t;

static const char *mode = "rps", *suite = "psk", *path = "", *identity = "bench", *psk_key = "";
static int port = 0, nsessions = 16, depth = 8, conc = 32;
static double warmup_s = 1.0, seconds_s = 5.0;
static SSL_CTX *ctx;
static int plain = 0; /* --suite none: CoAP over UDP without DTLS */
static int ep;
static session_t *sess;
static int nslots;
static int n_state[3]; /* sessions per state, kept current by set_state() */
static volatile sig_atomic_t stop_now = 0;

/* Counters: those with m_ are reset when the measured window starts. */
static long m_responses, m_hs_done, m_hs_failed, m_timeouts, m_bad, m_send_fail, tot_hs_done, tot_hs_failed;
static int measuring = 0, sending = 1;
static char cipher_name[64] = "";

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void on_signal(int sig) {
  (void)sig;
  stop_now = 1;
}

static unsigned int psk_cb(SSL *ssl, const char *hint, char *id, unsigned int max_id, unsigned char *psk, unsigned int max_psk) {
  (void)ssl;
  (void)hint;
  size_t il = strlen(identity), kl = strlen(psk_key);
  if (il + 1 > max_id || kl > max_psk) return 0;
  memcpy(id, identity, il + 1);
  memcpy(psk, psk_key, kl);
  return (unsigned int)kl;
}

static void die(const char *what) {
  fprintf(stderr, "coaps-loadgen: %s: %s\n", what, strerror(errno));
  ERR_print_errors_fp(stderr);
  exit(2);
}

static void set_state(session_t *s, int st) {
  n_state[s->state]--;
  n_state[st]++;
  s->state = st;
}

/* Opens a socket and starts a handshake in slot i. */
static void session_open(int i) {
  session_t *s = &sess[i];
  memset(s, 0, sizeof *s); /* state FREE: the slot was counted as free already */
  s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->fd < 0) die("socket");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s->fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
  s->next_mid = (uint16_t)(rand() & 0xffff);
  s->next_token = (uint32_t)rand();
  if (plain) {
    struct epoll_event pev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &pev) < 0) die("epoll_ctl");
    set_state(s, HANDSHAKING);
    return;
  }
  s->ssl = SSL_new(ctx);
  BIO *bio = BIO_new_dgram(s->fd, BIO_NOCLOSE);
  BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &a);
  SSL_set_bio(s->ssl, bio, bio);
  /* Loopback's 64 KiB MTU would let OpenSSL send one huge flight; use a real link's MTU. */
  SSL_set_options(s->ssl, SSL_OP_NO_QUERY_MTU);
  SSL_set_mtu(s->ssl, 1400);
  SSL_set_connect_state(s->ssl);
  set_state(s, HANDSHAKING);
  s->hs_start = now_s();
  s->next_mid = (uint16_t)(rand() & 0xffff);
  s->next_token = (uint32_t)rand();
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev) < 0) die("epoll_ctl");
}

static void drive(int i);

/* Opens slot i and sends its ClientHello. */
static void on_established(int i);

static void session_start(int i) {
  session_open(i);
  if (plain) on_established(i); /* nothing to negotiate */
  else drive(i);
}

static void session_close(int i, int notify) {
  session_t *s = &sess[i];
  if (s->state == FREE) return;
  if (notify && s->state == ESTABLISHED && s->ssl) SSL_shutdown(s->ssl); /* close_notify: the server frees the session now */
  if (s->ssl) SSL_free(s->ssl);
  close(s->fd); /* also removes it from the epoll set */
  set_state(s, FREE);
  s->ssl = NULL;
}

/* One CON GET (RFC 7252 §3): ver 1, CON, TKL 4, code 0.01, MID, token, Uri-Path options. */
static void send_request(session_t *s, slot_t *sl) {
  unsigned char m[256];
  size_t n = 0;
  sl->mid = s->next_mid++;
  sl->token = s->next_token++;
  m[n++] = 0x44;
  m[n++] = 0x01;
  m[n++] = sl->mid >> 8;
  m[n++] = sl->mid & 0xff;
  memcpy(m + n, &sl->token, 4);
  n += 4;
  unsigned prev = 0;
  const char *p = path;
  while (*p) {
    while (*p == '/') p++;
    const char *e = strchr(p, '/');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len == 0) break;
    if (len > 12 || n + 1 + len > sizeof m) break; /* the bench uses short segments only */
    m[n++] = (unsigned char)(((11 - prev) << 4) | len);
    prev = 11;
    memcpy(m + n, p, len);
    n += len;
    p += len;
  }
  sl->sent = now_s();
  sl->busy = 1;
  s->outstanding++;
  if (plain) {
    if (send(s->fd, m, n, 0) < 0) m_send_fail++;
    return;
  }
  if (SSL_write(s->ssl, m, (int)n) <= 0) {
    ERR_clear_error();
    m_send_fail++; /* the slot times out and is reissued */
  }
}

static void fill_pipeline(session_t *s) {
  if (!sending) return;
  for (int k = 0; k < depth; k++)
    if (!s->slots[k].busy) send_request(s, &s->slots[k]);
}

static void on_response(session_t *s, const unsigned char *b, int n) {
  if (n < 4 || (b[0] >> 6) != 1) { m_bad++; return; }
  int type = (b[0] >> 4) & 3, tkl = b[0] & 15;
  uint16_t mid = (uint16_t)(b[2] << 8 | b[3]);
  for (int k = 0; k < depth; k++) {
    slot_t *sl = &s->slots[k];
    if (!sl->busy || sl->mid != mid) continue;
    uint32_t tok;
    if (type != 2 || tkl != 4 || n < 8 || (memcpy(&tok, b + 4, 4), tok != sl->token) || b[1] != 0x45) m_bad++;
    else m_responses++;
    sl->busy = 0;
    s->outstanding--;
    if (sending) send_request(s, sl);
    return;
  }
  m_bad++; /* late answer to a request already counted as timed out */
}

/* Sessions of rps/idle are opened in order, at most CONC handshakes at a time. */
static int opened = 0;
static void open_more(void) {
  while (opened < nslots && n_state[HANDSHAKING] < conc) session_start(opened++);
}

static void on_established(int i) {
  session_t *s = &sess[i];
  set_state(s, ESTABLISHED);
  if (!cipher_name[0]) snprintf(cipher_name, sizeof cipher_name, "%s", plain ? "NONE" : SSL_get_cipher_name(s->ssl));
  tot_hs_done++;
  m_hs_done++;
  if (strcmp(mode, "hs") == 0) {
    session_close(i, 1);
    if (sending) session_start(i);
  } else {
    if (strcmp(mode, "rps") == 0) fill_pipeline(s);
    open_more();
  }
}

static void on_hs_failed(int i, const char *why) {
  tot_hs_failed++;
  m_hs_failed++;
  if (tot_hs_failed <= 3) { /* say why, for the first few: the caller shows it */
    unsigned long e = ERR_peek_error();
    fprintf(stderr, "coaps-loadgen: handshake failed (%s): %s\n", why, e ? ERR_error_string(e, NULL) : "no OpenSSL error");
  }
  ERR_clear_error();
  session_close(i, 0);
  if (sending) session_start(i); /* idle and rps want their N sessions; hs keeps CONC going */
}

static void drive(int i) {
  session_t *s = &sess[i];
  if (s->state == HANDSHAKING) {
    int r = SSL_do_handshake(s->ssl);
    if (r == 1) on_established(i);
    else {
      int e = SSL_get_error(s->ssl, r);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) on_hs_failed(i, e == SSL_ERROR_SSL ? "TLS error" : "socket error");
    }
    return;
  }
  if (s->state != ESTABLISHED) return;
  unsigned char buf[2048];
  if (plain) {
    for (;;) {
      ssize_t r = recv(s->fd, buf, sizeof buf, 0);
      if (r > 0) on_response(s, buf, (int)r);
      else return; /* EAGAIN (or ICMP refused: the request times out) */
    }
  }
  for (;;) {
    int r = SSL_read(s->ssl, buf, sizeof buf);
    if (r > 0) {
      on_response(s, buf, r);
      continue;
    }
    int e = SSL_get_error(s->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
    /* close_notify, fatal alert or socket error: the session is gone */
    ERR_clear_error();
    session_close(i, 0);
    m_bad++;
    if (sending && strcmp(mode, "hs") != 0) session_start(i);
    return;
  }
}

/* Handshake retransmissions, handshakes given up on, requests that got no answer. */
static void tick(double t) {
  /* Idle sessions need no timers; skip the walk over thousands of them. */
  if (n_state[HANDSHAKING] == 0 && (!sending || strcmp(mode, "rps") != 0)) return;
  for (int i = 0; i < nslots; i++) {
    session_t *s = &sess[i];
    if (s->state == HANDSHAKING && !plain) {
      if (t - s->hs_start > HS_GIVE_UP_S) { on_hs_failed(i, "no answer in 10 s"); continue; }
      struct timeval tv;
      if (DTLSv1_get_timeout(s->ssl, &tv) && tv.tv_sec == 0 && tv.tv_usec == 0 && DTLSv1_handle_timeout(s->ssl) < 0) on_hs_failed(i, "retransmission failed");
    } else if (s->state == ESTABLISHED && s->outstanding > 0) {
      for (int k = 0; k < depth; k++) {
        slot_t *sl = &s->slots[k];
        if (sl->busy && t - sl->sent > REQ_TIMEOUT_S) {
          m_timeouts++;
          sl->busy = 0;
          s->outstanding--;
          if (sending) send_request(s, sl);
        }
      }
    }
  }
}

static int count_state(int st) { return n_state[st]; }

/* Runs the event loop until `until` (monotonic seconds) or, if `until_established`, all slots are up. */
static void loop(double until, int until_established) {
  struct epoll_event evs[256];
  double next_tick = now_s() + 0.01;
  while (!stop_now) {
    double t = now_s();
    if (t >= until) return;
    if (until_established && count_state(ESTABLISHED) == nslots) return;
    int wait_ms = (int)((next_tick - t) * 1000);
    int n = epoll_wait(ep, evs, 256, wait_ms < 0 ? 0 : wait_ms);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int k = 0; k < n; k++) drive((int)evs[k].data.u32);
    t = now_s();
    if (t >= next_tick) {
      tick(t);
      next_tick = t + 0.01;
    }
  }
}

static void usage(void) {
  fprintf(stderr,
          "usage: coaps-loadgen --port P [--mode rps|hs|idle] [--suite psk|ecdhe] [--sessions N] [--depth W]\n"
          "                     [--conc C] [--warmup S] [--seconds S] [--path /p] [--identity ID] [--key KEY]\n");
  exit(2);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) usage();
    if (!strcmp(a, "--port")) port = atoi(v);
    else if (!strcmp(a, "--mode")) mode = v;
    else if (!strcmp(a, "--suite")) suite = v;
    else if (!strcmp(a, "--sessions")) nsessions = atoi(v);
    else if (!strcmp(a, "--depth")) depth = atoi(v);
    else if (!strcmp(a, "--conc")) conc = atoi(v);
    else if (!strcmp(a, "--warmup")) warmup_s = atof(v);
    else if (!strcmp(a, "--seconds")) seconds_s = atof(v);
    else if (!strcmp(a, "--path")) path = v;
    else if (!strcmp(a, "--identity")) identity = v;
    else if (!strcmp(a, "--key")) psk_key = v;
    else usage();
    i++;
  }
  if (port <= 0 || depth < 1 || depth > MAX_DEPTH || nsessions < 1 || conc < 1) usage();
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max; /* one socket per session */
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  srand((unsigned)(getpid() ^ time(NULL)));

  plain = !strcmp(suite, "none");
  ctx = SSL_CTX_new(DTLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF); /* every handshake is a full one */
  SSL_CTX_set_read_ahead(ctx, 1);
  /* The CoAP mandatory suites (RFC 7252 §9.1.3), the same for both servers. CCM_8's 64-bit tag
     sits below OpenSSL 3's default security level, hence @SECLEVEL=0. */
  const char *ciphers = !strcmp(suite, "ecdhe") ? "ECDHE-ECDSA-AES128-CCM8:@SECLEVEL=0" : "PSK-AES128-CCM8:@SECLEVEL=0";
  if (SSL_CTX_set_cipher_list(ctx, ciphers) != 1) die("cipher list");
  SSL_CTX_set1_groups_list(ctx, "P-256");
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* the bench's self-signed certificate; signatures are still checked */
  if (strcmp(suite, "ecdhe") != 0) SSL_CTX_set_psk_client_callback(ctx, psk_cb);

  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  int is_hs = !strcmp(mode, "hs"), is_idle = !strcmp(mode, "idle");
  nslots = is_hs ? conc : nsessions;
  sess = calloc((size_t)nslots, sizeof *sess);
  if (!sess) die("calloc");
  n_state[FREE] = nslots;

  double t0 = now_s();
  if (is_hs) {
    for (int i = 0; i < nslots; i++) session_start(i);
  } else {
    /* Establish N sessions, at most CONC handshakes at a time (servers cap half-open handshakes). */
    open_more();
    loop(t0 + 120, 1);
  }
  double t_est = now_s();
  if (is_idle) {
    printf("{\"event\":\"idle\",\"established\":%d,\"handshake_failures\":%ld,\"establish_s\":%.3f,\"cipher\":\"%s\"}\n",
           count_state(ESTABLISHED), tot_hs_failed, t_est - t0, cipher_name);
    fflush(stdout);
    struct pollfd pf = {.fd = 0, .events = POLLIN};
    /* Keep the sessions idle (no traffic) until told; keep answering nothing. */
    while (!stop_now) {
      int r = poll(&pf, 1, 200);
      if (r > 0) break;
    }
  } else {
    loop(now_s() + warmup_s, 0);
    m_responses = m_hs_done = m_hs_failed = m_timeouts = m_bad = m_send_fail = 0;
    measuring = 1;
    printf("{\"event\":\"measure_start\"}\n");
    fflush(stdout);
    double c0 = cpu_s(), w0 = now_s();
    loop(w0 + seconds_s, 0);
    double wall = now_s() - w0, cpu = cpu_s() - c0;
    sending = 0;
    printf("{\"event\":\"result\",\"mode\":\"%s\",\"suite\":\"%s\",\"cipher\":\"%s\",\"sessions\":%d,\"depth\":%d,\"conc\":%d,"
           "\"wall_s\":%.3f,\"responses\":%ld,\"rps\":%.1f,\"handshakes\":%ld,\"hs_per_s\":%.1f,\"handshake_failures\":%ld,"
           "\"timeouts\":%ld,\"bad\":%ld,\"send_failures\":%ld,\"gen_cpu_s\":%.3f,\"gen_cpu_pct\":%.1f,\"established\":%d}\n",
           mode, suite, cipher_name, nsessions, depth, conc, wall, m_responses, m_responses / wall, m_hs_done, m_hs_done / wall,
           m_hs_failed, m_timeouts, m_bad, m_send_fail, cpu, 100 * cpu / wall, count_state(ESTABLISHED));
    fflush(stdout);
  }
  for (int i = 0; i < nslots; i++) session_close(i, 1);
  SSL_CTX_free(ctx);
  free(sess);
  return 0;
}

/*
 * rootline DTLS server fast path (N-API addon, C).
 *
 * Owns the DTLS server's UDP socket (non-blocking, watched by a uv_poll_t on node's own loop)
 * and handles, in batches, the one thing that dominates a busy CoAPs server: application-data
 * records of established sessions. Everything else goes to the JavaScript DTLS code unchanged.
 *
 *   receive: recvmmsg() up to BATCH datagrams. A datagram from the address of a session that JS
 *            has handed over ("fast session") whose well-formed records are all application_data
 *            (23) of that session's epoch, DTLS 1.2, is handled here: per record the anti-replay
 *            check (RFC 6347 §4.1.2.6, the semantics of src/dtls/replay-window.ts), AEAD open
 *            (AES-128-CCM-8 or AES-128-GCM through node's own OpenSSL: EVP, constant-time tag
 *            check), then the window update; records that fail are dropped silently
 *            (§4.1.2.7). Any other datagram from a fast session's address first takes the session
 *            back from native (its read window and write sequence number travel with it) and then
 *            goes to JS as a raw datagram, so the JS code continues exactly. Datagrams from other
 *            addresses go to JS raw.
 *            JS is called ONCE per batch; the batch is written into a buffer JS gave at open():
 *              1 u32 handle, u32 length, plaintext               (an authenticated record)
 *              2 u8 textLength, address text, u16 port, u32 length, bytes   (a raw datagram)
 *              3 u32 handle        (JS takes the session back, with take(), before the next item)
 *            (little endian, unaligned; the callback gets the number of bytes written.)
 *   send:    send(handle, plaintext) seals one application-data record with the session's write
 *            key and next write sequence number (native owns it while the session is here);
 *            sendRaw(bytes, address, port) sends what JS encoded. Inside the batch callback
 *            datagrams are queued and leave with sendmmsg() when it returns; outside it they are
 *            sent at once.
 *
 * Memory per fast session: one entry (keys, salts, window, sequence numbers, address) of
 * ~100 bytes and a 4-byte hash bucket. Keys are OPENSSL_cleanse()d when an entry is removed and
 * never printed. One EVP_CIPHER_CTX per suite and direction is re-keyed for every record.
 *
 * Built by scripts/build-native.mjs (no node-gyp); links against nothing: OpenSSL and libuv
 * symbols resolve to the ones the node binary exports.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#define BATCH 64
#define SLOT 65536
#define SEND_ARENA (256 * 1024)
#define OUT_CAPACITY (BATCH * (SLOT + 128))
#define MAX_SEQ ((uint64_t)0xFFFFFFFFFFFFull)
#define MAX_CIPHERTEXT (16384 + 2048)
#define MAX_PLAINTEXT 16384

#define SUITE_CCM8 0
#define SUITE_GCM 1

typedef struct {
  int32_t next; /* hash chain (handle), -1 = end */
  uint8_t used;
  uint8_t leaving; /* handed back to JS in the current batch: no longer matched by address */
  uint8_t family; /* 4 or 6 */
  uint8_t suite;
  uint16_t epoch;
  uint16_t port; /* host order */
  uint8_t addr[16];
  uint8_t rkey[16];
  uint8_t wkey[16];
  uint8_t rsalt[4];
  uint8_t wsalt[4];
  int64_t top; /* highest accepted sequence number, -1 before any */
  uint64_t bitmap; /* bit i ⇔ top - i accepted */
  uint64_t wseq;
} entry_t;

typedef struct {
  napi_env env;
  uv_poll_t poll;
  int fd;
  int family;
  int closed;
  int in_batch;
  napi_ref callback;
  napi_ref out_ref;
  napi_async_context async;
  uint8_t *out;
  size_t out_cap;
  /* receive */
  uint8_t *slots;
  struct mmsghdr rmsg[BATCH];
  struct iovec riov[BATCH];
  struct sockaddr_in6 raddr[BATCH];
  /* send queue */
  uint8_t *arena;
  size_t arena_used;
  int squeued;
  struct mmsghdr smsg[BATCH];
  struct iovec siov[BATCH];
  struct sockaddr_in6 saddr[BATCH];
  /* sessions */
  entry_t **entries;
  uint32_t entries_cap;
  int32_t *free_list;
  uint32_t free_count;
  /* Handles freed while JS runs a batch: not reused before the batch's entries are all read. */
  int32_t *deferred;
  uint32_t deferred_count;
  int32_t *buckets;
  uint32_t bucket_mask;
  uint32_t count;
  /* crypto */
  EVP_CIPHER_CTX *ccm_dec, *ccm_enc, *gcm_dec, *gcm_enc;
  /* statistics */
  double dropped_sends;
  /* freed when both the poll handle is closed and the JS external is collected */
  int poll_closed;
  int finalized;
} fastpath_t;

static EVP_CIPHER *CCM = NULL, *GCM = NULL;

/* ── helpers ─────────────────────────────────────────────────────────────────────────────── */

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

static uint32_t hash_addr(int family, const uint8_t *addr, uint16_t port) {
  uint32_t h = 2166136261u ^ (uint32_t)family;
  int n = family == 4 ? 4 : 16;
  for (int i = 0; i < n; i++) h = (h ^ addr[i]) * 16777619u;
  h = (h ^ (port & 0xff)) * 16777619u;
  h = (h ^ (port >> 8)) * 16777619u;
  return h ^ (h >> 15);
}

/* Address of a received datagram as (family, 16 bytes, port); IPv4-mapped IPv6 is left as IPv6
 * (node:dgram reports it as ::ffff:a.b.c.d on a udp6 socket and the JS side keys on that). */
static int sockaddr_key(const struct sockaddr_in6 *sa, uint8_t *addr, uint16_t *port) {
  if (sa->sin6_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
    memset(addr, 0, 16);
    memcpy(addr, &s4->sin_addr, 4);
    *port = ntohs(s4->sin_port);
    return 4;
  }
  if (sa->sin6_family == AF_INET6) {
    memcpy(addr, &sa->sin6_addr, 16);
    *port = ntohs(sa->sin6_port);
    return 6;
  }
  return 0;
}

static int32_t lookup(fastpath_t *fp, int family, const uint8_t *addr, uint16_t port) {
  if (fp->count == 0) return -1;
  int32_t h = fp->buckets[hash_addr(family, addr, port) & fp->bucket_mask];
  int n = family == 4 ? 4 : 16;
  while (h >= 0) {
    entry_t *e = fp->entries[h];
    if (e->family == family && e->port == port && !e->leaving && memcmp(e->addr, addr, n) == 0) return h;
    h = e->next;
  }
  return -1;
}

static void unlink_entry(fastpath_t *fp, int32_t handle) {
  entry_t *e = fp->entries[handle];
  int32_t *pp = &fp->buckets[hash_addr(e->family, e->addr, e->port) & fp->bucket_mask];
  while (*pp >= 0) {
    if (*pp == handle) {
      *pp = e->next;
      break;
    }
    pp = &fp->entries[*pp]->next;
  }
}

static int grow_buckets(fastpath_t *fp) {
  uint32_t size = (fp->bucket_mask + 1) * 2;
  int32_t *b = malloc(sizeof(int32_t) * size);
  if (b == NULL) return 0;
  for (uint32_t i = 0; i < size; i++) b[i] = -1;
  free(fp->buckets);
  fp->buckets = b;
  fp->bucket_mask = size - 1;
  for (uint32_t i = 0; i < fp->entries_cap; i++) {
    entry_t *e = fp->entries[i];
    if (e == NULL || !e->used) continue;
    uint32_t at = hash_addr(e->family, e->addr, e->port) & fp->bucket_mask;
    e->next = b[at];
    b[at] = (int32_t)i;
  }
  return 1;
}

static void remove_entry(fastpath_t *fp, int32_t handle) {
  entry_t *e = fp->entries[handle];
  unlink_entry(fp, handle);
  OPENSSL_cleanse(e, sizeof(*e));
  free(e);
  fp->entries[handle] = NULL;
  if (fp->in_batch) fp->deferred[fp->deferred_count++] = handle;
  else fp->free_list[fp->free_count++] = handle;
  fp->count--;
}

/* RFC 6347 §4.1.2.6, as src/dtls/replay-window.ts. */
static int window_check(const entry_t *e, uint64_t seq) {
  if ((int64_t)seq > e->top) return 1;
  uint64_t diff = (uint64_t)e->top - seq;
  if (diff >= 64) return 0;
  return ((e->bitmap >> diff) & 1) == 0;
}

static void window_accept(entry_t *e, uint64_t seq) {
  if ((int64_t)seq > e->top) {
    uint64_t shift = e->top < 0 ? 64 : seq - (uint64_t)e->top;
    e->bitmap = shift >= 64 ? 0 : e->bitmap << shift;
    e->bitmap |= 1;
    e->top = (int64_t)seq;
    return;
  }
  uint64_t diff = (uint64_t)e->top - seq;
  if (diff < 64) e->bitmap |= (uint64_t)1 << diff;
}

/* ── AEAD (RFC 5246 §6.2.3.3, RFC 6655 §3 / RFC 5288 §3 nonce) ─────────────────────────── */

static void make_aad(uint8_t aad[13], uint16_t epoch, uint64_t seq, uint8_t type, uint16_t version, uint16_t length) {
  aad[0] = epoch >> 8;
  aad[1] = epoch & 0xff;
  for (int i = 0; i < 6; i++) aad[2 + i] = (uint8_t)(seq >> (8 * (5 - i)));
  aad[8] = type;
  aad[9] = version >> 8;
  aad[10] = version & 0xff;
  aad[11] = length >> 8;
  aad[12] = length & 0xff;
}

static int tag_length(int suite) { return suite == SUITE_CCM8 ? 8 : 16; }

/* Opens fragment = explicit_nonce(8) || ciphertext || tag into out; returns the plaintext
 * length, or -1 (nothing usable is left in out). */
static int aead_open(fastpath_t *fp, int suite, const uint8_t *key, const uint8_t *salt, uint16_t epoch, uint64_t seq, uint8_t type,
                     uint16_t version, const uint8_t *frag, int flen, uint8_t *out) {
  int tl = tag_length(suite);
  int len = flen - 8 - tl;
  if (len < 0) return -1;
  uint8_t nonce[12], aad[13];
  memcpy(nonce, salt, 4);
  memcpy(nonce + 4, frag, 8); /* the transmitted explicit nonce, as record-protection.ts */
  make_aad(aad, epoch, seq, type, version, (uint16_t)len);
  const uint8_t *ct = frag + 8;
  const uint8_t *tag = frag + 8 + len;
  int outl = 0;
  static const uint8_t empty[16];
  /* OpenSSL's CCM misreads a NULL input pointer: always pass a valid one. */
  const uint8_t *in = len == 0 ? empty : ct;
  uint8_t scratch[16];
  uint8_t *o = len == 0 ? scratch : out;
  if (suite == SUITE_CCM8) {
    EVP_CIPHER_CTX *c = fp->ccm_dec;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, tl, (void *)tag) != 1) return -1;
    if (EVP_DecryptInit_ex(c, NULL, NULL, key, nonce) != 1) return -1;
    if (EVP_DecryptUpdate(c, NULL, &outl, NULL, len) != 1) return -1;
    if (EVP_DecryptUpdate(c, NULL, &outl, aad, 13) != 1) return -1;
    if (EVP_DecryptUpdate(c, o, &outl, in, len) != 1) return -1; /* fails on a bad tag (CCM checks here) */
    return len;
  }
  EVP_CIPHER_CTX *c = fp->gcm_dec;
  if (EVP_DecryptInit_ex(c, NULL, NULL, key, nonce) != 1) return -1;
  if (EVP_DecryptUpdate(c, NULL, &outl, aad, 13) != 1) return -1;
  if (len > 0 && EVP_DecryptUpdate(c, o, &outl, in, len) != 1) goto fail;
  if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, tl, (void *)tag) != 1) goto fail;
  if (EVP_DecryptFinal_ex(c, scratch, &outl) != 1) goto fail;
  return len;
fail:
  if (len > 0) OPENSSL_cleanse(out, (size_t)len);
  return -1;
}

/* Writes header || explicit nonce || ciphertext || tag at out; returns the record length or -1. */
static int aead_seal(fastpath_t *fp, int suite, const uint8_t *key, const uint8_t *salt, uint16_t epoch, uint64_t seq,
                     const uint8_t *pt, int len, uint8_t *out) {
  int tl = tag_length(suite);
  int flen = 8 + len + tl;
  uint8_t nonce[12], aad[13];
  out[0] = 23;
  out[1] = 0xfe;
  out[2] = 0xfd;
  out[3] = epoch >> 8;
  out[4] = epoch & 0xff;
  for (int i = 0; i < 6; i++) out[5 + i] = (uint8_t)(seq >> (8 * (5 - i)));
  out[11] = (uint8_t)(flen >> 8);
  out[12] = (uint8_t)(flen & 0xff);
  memcpy(nonce, salt, 4);
  memcpy(nonce + 4, out + 3, 8); /* nonce_explicit = epoch || sequence_number */
  memcpy(out + 13, nonce + 4, 8);
  make_aad(aad, epoch, seq, 23, 0xfefd, (uint16_t)len);
  static const uint8_t empty[16];
  const uint8_t *in = len == 0 ? empty : pt;
  uint8_t *body = out + 21;
  uint8_t scratch[16];
  int outl = 0;
  EVP_CIPHER_CTX *c = suite == SUITE_CCM8 ? fp->ccm_enc : fp->gcm_enc;
  if (suite == SUITE_CCM8) {
    if (EVP_EncryptInit_ex(c, NULL, NULL, key, nonce) != 1) return -1;
    if (EVP_EncryptUpdate(c, NULL, &outl, NULL, len) != 1) return -1;
    if (EVP_EncryptUpdate(c, NULL, &outl, aad, 13) != 1) return -1;
    if (EVP_EncryptUpdate(c, len == 0 ? scratch : body, &outl, in, len) != 1) return -1;
    if (EVP_EncryptFinal_ex(c, scratch, &outl) != 1) return -1;
  } else {
    if (EVP_EncryptInit_ex(c, NULL, NULL, key, nonce) != 1) return -1;
    if (EVP_EncryptUpdate(c, NULL, &outl, aad, 13) != 1) return -1;
    if (len > 0 && EVP_EncryptUpdate(c, body, &outl, in, len) != 1) return -1;
    if (EVP_EncryptFinal_ex(c, scratch, &outl) != 1) return -1;
  }
  if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, tl, body + len) != 1) return -1;
  return 13 + flen;
}

static int init_ciphers(fastpath_t *fp) {
  if (CCM == NULL) CCM = EVP_CIPHER_fetch(NULL, "AES-128-CCM", NULL);
  if (GCM == NULL) GCM = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
  if (CCM == NULL || GCM == NULL) return 0;
  fp->ccm_dec = EVP_CIPHER_CTX_new();
  fp->ccm_enc = EVP_CIPHER_CTX_new();
  fp->gcm_dec = EVP_CIPHER_CTX_new();
  fp->gcm_enc = EVP_CIPHER_CTX_new();
  if (!fp->ccm_dec || !fp->ccm_enc || !fp->gcm_dec || !fp->gcm_enc) return 0;
  if (EVP_DecryptInit_ex(fp->ccm_dec, CCM, NULL, NULL, NULL) != 1) return 0;
  if (EVP_CIPHER_CTX_ctrl(fp->ccm_dec, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) != 1) return 0;
  if (EVP_EncryptInit_ex(fp->ccm_enc, CCM, NULL, NULL, NULL) != 1) return 0;
  if (EVP_CIPHER_CTX_ctrl(fp->ccm_enc, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) != 1) return 0;
  if (EVP_CIPHER_CTX_ctrl(fp->ccm_enc, EVP_CTRL_AEAD_SET_TAG, 8, NULL) != 1) return 0;
  if (EVP_DecryptInit_ex(fp->gcm_dec, GCM, NULL, NULL, NULL) != 1) return 0;
  if (EVP_CIPHER_CTX_ctrl(fp->gcm_dec, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) != 1) return 0;
  if (EVP_EncryptInit_ex(fp->gcm_enc, GCM, NULL, NULL, NULL) != 1) return 0;
  if (EVP_CIPHER_CTX_ctrl(fp->gcm_enc, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) != 1) return 0;
  return 1;
}

/* ── sending ─────────────────────────────────────────────────────────────────────────────── */

static socklen_t to_sockaddr(fastpath_t *fp, int family, const uint8_t *addr, uint16_t port, struct sockaddr_in6 *out) {
  memset(out, 0, sizeof(*out));
  if (family == 4 && fp->family == 4) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)out;
    s4->sin_family = AF_INET;
    memcpy(&s4->sin_addr, addr, 4);
    s4->sin_port = htons(port);
    return sizeof(struct sockaddr_in);
  }
  out->sin6_family = AF_INET6;
  if (family == 4) {
    /* An IPv4 peer on an IPv6 socket: the mapped form. */
    out->sin6_addr.s6_addr[10] = 0xff;
    out->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&out->sin6_addr.s6_addr[12], addr, 4);
  } else {
    memcpy(&out->sin6_addr, addr, 16);
  }
  out->sin6_port = htons(port);
  return sizeof(struct sockaddr_in6);
}

static void flush_sends(fastpath_t *fp) {
  int done = 0;
  while (done < fp->squeued) {
    int n = sendmmsg(fp->fd, fp->smsg + done, (unsigned)(fp->squeued - done), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      /* EAGAIN or a per-destination error (ICMP unreachable reported late): skip one and go on;
       * a datagram lost here is a datagram lost on the network. */
      fp->dropped_sends++;
      done++;
      continue;
    }
    done += n;
  }
  fp->squeued = 0;
  fp->arena_used = 0;
}

/* Room for a datagram of `len` bytes in the queue, flushing first if needed; NULL if it can
 * never fit (then it is sent directly). */
static uint8_t *queue_slot(fastpath_t *fp, size_t len) {
  if (len > SEND_ARENA) return NULL;
  if (fp->squeued == BATCH || fp->arena_used + len > SEND_ARENA) flush_sends(fp);
  return fp->arena + fp->arena_used;
}

static void commit_queued(fastpath_t *fp, uint8_t *data, size_t len, const struct sockaddr_in6 *to, socklen_t tolen) {
  int i = fp->squeued++;
  fp->siov[i].iov_base = data;
  fp->siov[i].iov_len = len;
  fp->saddr[i] = *to;
  memset(&fp->smsg[i], 0, sizeof(fp->smsg[i]));
  fp->smsg[i].msg_hdr.msg_iov = &fp->siov[i];
  fp->smsg[i].msg_hdr.msg_iovlen = 1;
  fp->smsg[i].msg_hdr.msg_name = &fp->saddr[i];
  fp->smsg[i].msg_hdr.msg_namelen = tolen;
  fp->arena_used += (len + 15) & ~(size_t)15;
}

static void send_now(fastpath_t *fp, const uint8_t *data, size_t len, const struct sockaddr_in6 *to, socklen_t tolen) {
  for (;;) {
    ssize_t r = sendto(fp->fd, data, len, 0, (const struct sockaddr *)to, tolen);
    if (r >= 0) return;
    if (errno == EINTR) continue;
    fp->dropped_sends++;
    return;
  }
}

/* ── receiving ───────────────────────────────────────────────────────────────────────────── */

static size_t emit_raw(fastpath_t *fp, size_t o, const struct sockaddr_in6 *sa, const uint8_t *data, size_t len) {
  char text[INET6_ADDRSTRLEN];
  uint16_t port;
  if (sa->sin6_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &s4->sin_addr, text, sizeof(text));
    port = ntohs(s4->sin_port);
  } else {
    inet_ntop(AF_INET6, &sa->sin6_addr, text, sizeof(text));
    port = ntohs(sa->sin6_port);
  }
  size_t tl = strlen(text);
  fp->out[o++] = 2;
  fp->out[o++] = (uint8_t)tl;
  memcpy(fp->out + o, text, tl);
  o += tl;
  put_u16(fp->out + o, port);
  o += 2;
  put_u32(fp->out + o, (uint32_t)len);
  o += 4;
  memcpy(fp->out + o, data, len);
  return o + len;
}

/* The session must go back to JS before its datagram does: the entry stops matching addresses
 * (later datagrams from there in this batch go raw too) and JS takes it, with its current state,
 * when it reaches this item. Until then it can still send. */
static size_t emit_taken(fastpath_t *fp, size_t o, int32_t handle) {
  fp->entries[handle]->leaving = 1;
  fp->out[o++] = 3;
  put_u32(fp->out + o, (uint32_t)handle);
  return o + 4;
}

/* All well-formed records of the datagram (stopping, as decodeDatagram does, at the first
 * malformed one) are application data of the session's epoch in DTLS 1.2? */
static int all_fast(const entry_t *e, const uint8_t *d, size_t n) {
  size_t o = 0;
  while (o < n) {
    uint8_t type = d[o];
    if (type < 20 || type > 25 || type == 24) break; /* unknown content type: decoding stops */
    if (o + 13 > n) break;
    uint16_t version = (uint16_t)((d[o + 1] << 8) | d[o + 2]);
    if (version != 0xfefd && version != 0xfeff) break;
    if (type == 25) return 0; /* tls12_cid: JS (it knows the CID length) */
    uint16_t length = (uint16_t)((d[o + 11] << 8) | d[o + 12]);
    if (length > MAX_CIPHERTEXT || o + 13 + length > n) break;
    uint16_t epoch = (uint16_t)((d[o + 3] << 8) | d[o + 4]);
    if (type != 23 || version != 0xfefd || epoch != e->epoch) return 0;
    o += 13 + (size_t)length;
  }
  return 1;
}

/* Handles a fast session's datagram; returns the new output offset. */
static size_t handle_fast(fastpath_t *fp, size_t o, int32_t handle, const uint8_t *d, size_t n) {
  entry_t *e = fp->entries[handle];
  size_t p = 0;
  while (p + 13 <= n) {
    if (d[p] != 23) break;
    uint16_t length = (uint16_t)((d[p + 11] << 8) | d[p + 12]);
    uint16_t version = (uint16_t)((d[p + 1] << 8) | d[p + 2]);
    if (version != 0xfefd || length > MAX_CIPHERTEXT || p + 13 + length > n) break;
    uint64_t seq = 0;
    for (int i = 0; i < 6; i++) seq = (seq << 8) | d[p + 5 + i];
    const uint8_t *frag = d + p + 13;
    p += 13 + (size_t)length;
    if (!window_check(e, seq)) continue; /* duplicates are silently discarded */
    uint8_t *dst = fp->out + o + 9;
    int len = aead_open(fp, e->suite, e->rkey, e->rsalt, e->epoch, seq, 23, version, frag, length, dst);
    if (len < 0) continue; /* invalid records are silently discarded */
    window_accept(e, seq);
    fp->out[o] = 1;
    put_u32(fp->out + o + 1, (uint32_t)handle);
    put_u32(fp->out + o + 5, (uint32_t)len);
    o += 9 + (size_t)len;
  }
  return o;
}

static void deliver(fastpath_t *fp, size_t bytes) {
  napi_env env = fp->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, argv[1], result;
  napi_get_reference_value(env, fp->callback, &cb);
  napi_get_global(env, &recv); /* MakeCallback needs an object as receiver */
  napi_create_double(env, (double)bytes, &argv[0]);
  fp->in_batch = 1;
  napi_status st = napi_make_callback(env, fp->async, recv, cb, 1, argv, &result);
  fp->in_batch = 0;
  /* The callback may have closed the fast path (server.close() from a handler): then the tables
   * are gone. */
  if (!fp->closed)
    while (fp->deferred_count > 0) fp->free_list[fp->free_count++] = fp->deferred[--fp->deferred_count];
  if (st == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  fastpath_t *fp = handle->data;
  if (status < 0 || fp->closed || !(events & UV_READABLE)) return;
  for (int round = 0; round < 8 && !fp->closed; round++) {
    for (int i = 0; i < BATCH; i++) {
      fp->riov[i].iov_base = fp->slots + (size_t)i * SLOT;
      fp->riov[i].iov_len = SLOT;
      memset(&fp->rmsg[i].msg_hdr, 0, sizeof(struct msghdr));
      fp->rmsg[i].msg_hdr.msg_iov = &fp->riov[i];
      fp->rmsg[i].msg_hdr.msg_iovlen = 1;
      fp->rmsg[i].msg_hdr.msg_name = &fp->raddr[i];
      fp->rmsg[i].msg_hdr.msg_namelen = sizeof(fp->raddr[i]);
    }
    int n = recvmmsg(fp->fd, fp->rmsg, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) break;
    size_t o = 0;
    for (int i = 0; i < n; i++) {
      const uint8_t *d = fp->slots + (size_t)i * SLOT;
      size_t len = fp->rmsg[i].msg_len;
      if (fp->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC) continue; /* larger than any datagram node delivers */
      uint8_t addr[16];
      uint16_t port;
      int family = sockaddr_key(&fp->raddr[i], addr, &port);
      if (family == 0) continue;
      int32_t h = lookup(fp, family, addr, port);
      if (h >= 0) {
        if (all_fast(fp->entries[h], d, len)) {
          o = handle_fast(fp, o, h, d, len);
          continue;
        }
        o = emit_taken(fp, o, h);
      }
      o = emit_raw(fp, o, &fp->raddr[i], d, len);
    }
    if (o > 0) deliver(fp, o);
    if (fp->squeued > 0) flush_sends(fp);
    if (n < BATCH) break;
  }
}

/* ── N-API ───────────────────────────────────────────────────────────────────────────────── */

#define CHECK(call)                                                        \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error(env, "ERR_DTLS_NATIVE", "fast path: " #call " failed"); \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

static void on_poll_closed(uv_handle_t *h) {
  fastpath_t *fp = h->data;
  if (fp->fd >= 0) close(fp->fd);
  free(fp->slots);
  free(fp->arena);
  fp->slots = NULL;
  fp->arena = NULL;
  fp->poll_closed = 1;
  if (fp->finalized) free(fp);
}

static void release(fastpath_t *fp) {
  if (fp->closed) return;
  fp->closed = 1;
  if (fp->squeued > 0) flush_sends(fp);
  for (uint32_t i = 0; i < fp->entries_cap; i++)
    if (fp->entries[i] != NULL) {
      OPENSSL_cleanse(fp->entries[i], sizeof(entry_t));
      free(fp->entries[i]);
      fp->entries[i] = NULL;
    }
  free(fp->entries);
  free(fp->free_list);
  free(fp->deferred);
  free(fp->buckets);
  fp->entries = NULL;
  fp->count = 0;
  EVP_CIPHER_CTX_free(fp->ccm_dec);
  EVP_CIPHER_CTX_free(fp->ccm_enc);
  EVP_CIPHER_CTX_free(fp->gcm_dec);
  EVP_CIPHER_CTX_free(fp->gcm_enc);
  napi_delete_reference(fp->env, fp->callback);
  napi_delete_reference(fp->env, fp->out_ref);
  napi_async_destroy(fp->env, fp->async);
  uv_poll_stop(&fp->poll);
  uv_close((uv_handle_t *)&fp->poll, on_poll_closed);
  /* libuv (uv_poll): "the fd can be safely closed immediately after a call to uv_poll_stop() or
   * uv_close()". Closing it here frees the port when close() returns, as node:dgram does, so a
   * server restarted on the same port can bind at once. */
  close(fp->fd);
  fp->fd = -1;
}

static void finalize_fp(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  fastpath_t *fp = data;
  /* Only after close(): the callback reference keeps the external alive while the socket is
   * open, so an open fast path is finalized only at environment teardown, where nothing is
   * released here (no N-API or libuv calls from a finalizer). */
  fp->finalized = 1;
  if (fp->closed && fp->poll_closed) free(fp);
}

static fastpath_t *get_fp(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, "ERR_DTLS_NATIVE", "not a fast path handle");
    return NULL;
  }
  fastpath_t *fp = p;
  if (fp->closed) {
    napi_throw_error(env, "ERR_DTLS_NATIVE", "fast path closed");
    return NULL;
  }
  return fp;
}

static int get_string(napi_env env, napi_value v, char *buf, size_t cap) {
  size_t len = 0;
  if (napi_get_value_string_latin1(env, v, buf, cap, &len) != napi_ok) return 0;
  return len > 0 && len < cap - 1;
}

/* Parses an IP literal: 4 or 6, or 0. */
static int parse_ip(const char *text, uint8_t addr[16]) {
  memset(addr, 0, 16);
  if (inet_pton(AF_INET, text, addr) == 1) return 4;
  if (inet_pton(AF_INET6, text, addr) == 1) return 6;
  return 0;
}

/* open(host, port, outBuffer, callback) → [handle, address, port] */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  /* Optional 5th argument: an IPv6 socket takes IPv6 only (IPV6_V6ONLY), as node:dgram's ipv6Only. */
  bool v6only = false;
  if (argc >= 5) CHECK(napi_get_value_bool(env, argv[4], &v6only));
  char host[64];
  if (argc < 4 || !get_string(env, argv[0], host, sizeof(host))) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "host: expected an IP literal");
    return NULL;
  }
  int32_t port;
  CHECK(napi_get_value_int32(env, argv[1], &port));
  void *out;
  size_t out_len;
  CHECK(napi_get_buffer_info(env, argv[2], &out, &out_len));
  if (out_len < OUT_CAPACITY) {
    napi_throw_range_error(env, "ERR_INVALID_ARG", "output buffer too small");
    return NULL;
  }
  uint8_t addr[16];
  int family = parse_ip(host, addr);
  if (family == 0 || port < 0 || port > 65535) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "host: expected an IP literal and a port");
    return NULL;
  }
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    napi_throw_error(env, "ERR_SOCKET", strerror(errno));
    return NULL;
  }
  if (family != 4) {
    int only = v6only ? 1 : 0;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &only, sizeof(only)) != 0) {
      int e = errno;
      close(fd);
      napi_throw_error(env, "ERR_SOCKET", strerror(e));
      return NULL;
    }
  }
  int size = 4 * 1024 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  struct sockaddr_in6 sa;
  fastpath_t tmp = {.family = family};
  socklen_t salen = to_sockaddr(&tmp, family, addr, (uint16_t)port, &sa);
  if (bind(fd, (struct sockaddr *)&sa, salen) != 0) {
    int e = errno;
    close(fd);
    napi_throw_error(env, e == EADDRINUSE ? "EADDRINUSE" : "ERR_SOCKET_BIND", strerror(e));
    return NULL;
  }
  fastpath_t *fp = calloc(1, sizeof(fastpath_t));
  if (fp == NULL) {
    close(fd);
    napi_throw_error(env, "ERR_DTLS_NATIVE", "out of memory");
    return NULL;
  }
  fp->env = env;
  fp->fd = fd;
  fp->family = family;
  fp->out = out;
  fp->out_cap = out_len;
  fp->slots = malloc((size_t)BATCH * SLOT);
  fp->arena = malloc(SEND_ARENA);
  fp->entries_cap = 64;
  fp->entries = calloc(fp->entries_cap, sizeof(entry_t *));
  fp->free_list = malloc(sizeof(int32_t) * fp->entries_cap);
  fp->deferred = malloc(sizeof(int32_t) * fp->entries_cap);
  fp->bucket_mask = 63;
  fp->buckets = malloc(sizeof(int32_t) * 64);
  if (!fp->slots || !fp->arena || !fp->entries || !fp->free_list || !fp->deferred || !fp->buckets || !init_ciphers(fp)) {
    close(fd);
    napi_throw_error(env, "ERR_DTLS_NATIVE", "fast path set-up failed");
    return NULL; /* a one-off leak on a failed set-up */
  }
  for (int i = 0; i < 64; i++) fp->buckets[i] = -1;
  for (uint32_t i = 0; i < fp->entries_cap; i++) fp->free_list[i] = (int32_t)(fp->entries_cap - 1 - i);
  fp->free_count = fp->entries_cap;
  CHECK(napi_create_reference(env, argv[3], 1, &fp->callback));
  CHECK(napi_create_reference(env, argv[2], 1, &fp->out_ref));
  napi_value name;
  CHECK(napi_create_string_utf8(env, "DtlsFastPath", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, NULL, name, &fp->async));
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  if (uv_poll_init_socket(loop, &fp->poll, fd) != 0) {
    close(fd);
    napi_throw_error(env, "ERR_DTLS_NATIVE", "uv_poll_init_socket failed");
    return NULL;
  }
  fp->poll.data = fp;
  uv_poll_start(&fp->poll, UV_READABLE, on_readable);
  /* The bound address, for server.address(). */
  struct sockaddr_in6 bound;
  socklen_t blen = sizeof(bound);
  getsockname(fd, (struct sockaddr *)&bound, &blen);
  char text[INET6_ADDRSTRLEN];
  uint16_t bport;
  if (bound.sin6_family == AF_INET) {
    inet_ntop(AF_INET, &((struct sockaddr_in *)&bound)->sin_addr, text, sizeof(text));
    bport = ntohs(((struct sockaddr_in *)&bound)->sin_port);
  } else {
    inet_ntop(AF_INET6, &bound.sin6_addr, text, sizeof(text));
    bport = ntohs(bound.sin6_port);
  }
  napi_value result, ext, a, p;
  CHECK(napi_create_external(env, fp, finalize_fp, NULL, &ext));
  CHECK(napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, &a));
  CHECK(napi_create_uint32(env, bport, &p));
  CHECK(napi_create_array_with_length(env, 3, &result));
  CHECK(napi_set_element(env, result, 0, ext));
  CHECK(napi_set_element(env, result, 1, a));
  CHECK(napi_set_element(env, result, 2, p));
  return result;
}

static int get_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_typedarray_type t;
  size_t length, offset;
  napi_value ab;
  void *base;
  if (napi_get_typedarray_info(env, v, &t, &length, &base, &ab, &offset) != napi_ok || t != napi_uint8_array) return 0;
  *data = base;
  *len = length;
  return 1;
}

static napi_value int_result(napi_env env, int32_t v) {
  napi_value r;
  napi_create_int32(env, v, &r);
  return r;
}

/* register(fp, address, port, suite, epoch, readKeyBytes, readKeyOffset, readSalt, writeKeyBytes,
 *          writeKeyOffset, writeSalt, top, lo, hi, writeSeq) → handle, or -1 (not taken) */
static napi_value js_register(napi_env env, napi_callback_info info) {
  size_t argc = 15;
  napi_value argv[15];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 15) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "register: 15 arguments");
    return NULL;
  }
  fastpath_t *fp = get_fp(env, argv[0]);
  if (fp == NULL) return NULL;
  char host[64];
  int32_t port, suite, epoch, roff, rsalt, woff, wsalt;
  uint32_t lo, hi;
  double top, wseq;
  uint8_t *rkey, *wkey;
  size_t rlen, wlen;
  if (!get_string(env, argv[1], host, sizeof(host))) return int_result(env, -1);
  CHECK(napi_get_value_int32(env, argv[2], &port));
  CHECK(napi_get_value_int32(env, argv[3], &suite));
  CHECK(napi_get_value_int32(env, argv[4], &epoch));
  if (!get_bytes(env, argv[5], &rkey, &rlen) || !get_bytes(env, argv[8], &wkey, &wlen)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "register: keys must be Uint8Arrays");
    return NULL;
  }
  CHECK(napi_get_value_int32(env, argv[6], &roff));
  CHECK(napi_get_value_int32(env, argv[7], &rsalt));
  CHECK(napi_get_value_int32(env, argv[9], &woff));
  CHECK(napi_get_value_int32(env, argv[10], &wsalt));
  CHECK(napi_get_value_double(env, argv[11], &top));
  CHECK(napi_get_value_uint32(env, argv[12], &lo));
  CHECK(napi_get_value_uint32(env, argv[13], &hi));
  CHECK(napi_get_value_double(env, argv[14], &wseq));
  uint8_t addr[16];
  int family = parse_ip(host, addr);
  if (family == 0 || port < 0 || port > 65535 || (suite != SUITE_CCM8 && suite != SUITE_GCM) || epoch < 1 || epoch > 65535 || roff < 0 ||
      woff < 0 || (size_t)roff + 16 > rlen || (size_t)woff + 16 > wlen || top < -1 || top > (double)MAX_SEQ || wseq < 0 || wseq > (double)MAX_SEQ)
    return int_result(env, -1);
  /* node reports a peer of a udp4 socket by its IPv4 text and of a udp6 socket by IPv6 text
   * (mapped for IPv4): the family of the text is the family records arrive with. */
  if ((family == 4) != (fp->family == 4)) return int_result(env, -1);
  if (lookup(fp, family, addr, (uint16_t)port) >= 0) return int_result(env, -1);
  if (fp->free_count == 0) {
    uint32_t cap = fp->entries_cap * 2;
    entry_t **entries = realloc(fp->entries, sizeof(entry_t *) * cap);
    if (entries == NULL) return int_result(env, -1);
    fp->entries = entries;
    int32_t *fl = realloc(fp->free_list, sizeof(int32_t) * cap);
    if (fl == NULL) return int_result(env, -1);
    fp->free_list = fl;
    int32_t *df = realloc(fp->deferred, sizeof(int32_t) * cap);
    if (df == NULL) return int_result(env, -1);
    fp->deferred = df;
    for (uint32_t i = fp->entries_cap; i < cap; i++) fp->entries[i] = NULL;
    for (uint32_t i = cap; i > fp->entries_cap; i--) fp->free_list[fp->free_count++] = (int32_t)(i - 1);
    fp->entries_cap = cap;
  }
  if (fp->count + 1 > fp->bucket_mask + 1 && !grow_buckets(fp)) return int_result(env, -1);
  entry_t *e = calloc(1, sizeof(entry_t));
  if (e == NULL) return int_result(env, -1);
  int32_t handle = fp->free_list[--fp->free_count];
  e->used = 1;
  e->family = (uint8_t)family;
  e->suite = (uint8_t)suite;
  e->epoch = (uint16_t)epoch;
  e->port = (uint16_t)port;
  memcpy(e->addr, addr, 16);
  memcpy(e->rkey, rkey + roff, 16);
  memcpy(e->wkey, wkey + woff, 16);
  for (int i = 0; i < 4; i++) {
    e->rsalt[i] = (uint8_t)((uint32_t)rsalt >> (24 - 8 * i));
    e->wsalt[i] = (uint8_t)((uint32_t)wsalt >> (24 - 8 * i));
  }
  e->top = (int64_t)top;
  e->bitmap = ((uint64_t)hi << 32) | lo;
  e->wseq = (uint64_t)wseq;
  uint32_t at = hash_addr(family, addr, (uint16_t)port) & fp->bucket_mask;
  e->next = fp->buckets[at];
  fp->buckets[at] = handle;
  fp->entries[handle] = e;
  fp->count++;
  return int_result(env, handle);
}

static entry_t *entry_arg(napi_env env, fastpath_t *fp, napi_value v, int32_t *handle) {
  if (napi_get_value_int32(env, v, handle) != napi_ok) return NULL;
  if (*handle < 0 || (uint32_t)*handle >= fp->entries_cap) return NULL;
  return fp->entries[*handle];
}

/* take(fp, handle, stateOut: Float64Array(4)) → true, state = [top, lo, hi, writeSeq]; the entry
 * is removed and its keys wiped. */
static napi_value js_take(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  fastpath_t *fp = get_fp(env, argv[0]);
  if (fp == NULL) return NULL;
  int32_t handle;
  entry_t *e = entry_arg(env, fp, argv[1], &handle);
  napi_typedarray_type t;
  size_t length, offset;
  napi_value ab;
  void *base;
  napi_value r;
  if (e == NULL || napi_get_typedarray_info(env, argv[2], &t, &length, &base, &ab, &offset) != napi_ok || t != napi_float64_array || length < 4) {
    napi_get_boolean(env, 0, &r);
    return r;
  }
  double *s = base;
  s[0] = (double)e->top;
  s[1] = (double)(uint32_t)(e->bitmap & 0xffffffffu);
  s[2] = (double)(uint32_t)(e->bitmap >> 32);
  s[3] = (double)e->wseq;
  remove_entry(fp, handle);
  napi_get_boolean(env, 1, &r);
  return r;
}

/* send(fp, handle, plaintext) → 0 sent or queued, -1 no such session, -2 sequence exhausted or
 * too long, -3 sealing failed */
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  fastpath_t *fp = get_fp(env, argv[0]);
  if (fp == NULL) return NULL;
  int32_t handle;
  entry_t *e = entry_arg(env, fp, argv[1], &handle);
  uint8_t *pt;
  size_t len;
  if (e == NULL) return int_result(env, -1);
  if (!get_bytes(env, argv[2], &pt, &len)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "send: expected a Uint8Array");
    return NULL;
  }
  if (len > MAX_PLAINTEXT || e->wseq > MAX_SEQ) return int_result(env, -2);
  size_t rlen = 13 + 8 + len + (size_t)tag_length(e->suite);
  struct sockaddr_in6 to;
  socklen_t tolen = to_sockaddr(fp, e->family, e->addr, e->port, &to);
  uint8_t *dst = fp->in_batch ? queue_slot(fp, rlen) : NULL;
  uint8_t local[13 + 8 + MAX_PLAINTEXT + 16];
  uint8_t *buf = dst != NULL ? dst : local;
  int n = aead_seal(fp, e->suite, e->wkey, e->wsalt, e->epoch, e->wseq, pt, (int)len, buf);
  if (n < 0) return int_result(env, -3);
  e->wseq++;
  if (dst != NULL) commit_queued(fp, dst, (size_t)n, &to, tolen);
  else send_now(fp, buf, (size_t)n, &to, tolen);
  return int_result(env, 0);
}

/* sendRaw(fp, bytes, address, port) → true, or false for an address that is not an IP literal */
static napi_value js_send_raw(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  fastpath_t *fp = get_fp(env, argv[0]);
  if (fp == NULL) return NULL;
  uint8_t *data;
  size_t len;
  char host[64];
  int32_t port;
  napi_value r;
  if (!get_bytes(env, argv[1], &data, &len)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "sendRaw: expected a Uint8Array");
    return NULL;
  }
  uint8_t addr[16];
  int family = get_string(env, argv[2], host, sizeof(host)) ? parse_ip(host, addr) : 0;
  CHECK(napi_get_value_int32(env, argv[3], &port));
  if (family == 0 || port < 0 || port > 65535 || (family == 6 && fp->family == 4)) {
    napi_get_boolean(env, 0, &r);
    return r;
  }
  struct sockaddr_in6 to;
  socklen_t tolen = to_sockaddr(fp, family, addr, (uint16_t)port, &to);
  uint8_t *dst = fp->in_batch ? queue_slot(fp, len) : NULL;
  if (dst != NULL) {
    memcpy(dst, data, len);
    commit_queued(fp, dst, len, &to, tolen);
  } else {
    send_now(fp, data, len, &to, tolen);
  }
  napi_get_boolean(env, 1, &r);
  return r;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *p = NULL;
  if (napi_get_value_external(env, argv[0], &p) == napi_ok && p != NULL) release(p);
  return NULL;
}

/* stats(fp) → [fast sessions, sends dropped] */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  fastpath_t *fp = get_fp(env, argv[0]);
  if (fp == NULL) return NULL;
  napi_value r, a, b;
  CHECK(napi_create_array_with_length(env, 2, &r));
  CHECK(napi_create_uint32(env, fp->count, &a));
  CHECK(napi_create_double(env, fp->dropped_sends, &b));
  CHECK(napi_set_element(env, r, 0, a));
  CHECK(napi_set_element(env, r, 1, b));
  return r;
}

/* For the differential tests: the same seal/open the socket path uses, on one record.
 * sealRecord(suite, key16, salt, epoch, seq, plaintext) → record (header included)
 * openRecord(suite, key16, salt, record) → plaintext, or null */
static fastpath_t *test_ctx(void) {
  static fastpath_t *t = NULL;
  if (t == NULL) {
    t = calloc(1, sizeof(fastpath_t));
    if (t == NULL || !init_ciphers(t)) return NULL;
  }
  return t;
}

static napi_value js_seal_record(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t suite, salt, epoch;
  double seq;
  uint8_t *key, *pt;
  size_t klen, len;
  CHECK(napi_get_value_int32(env, argv[0], &suite));
  CHECK(napi_get_value_int32(env, argv[2], &salt));
  CHECK(napi_get_value_int32(env, argv[3], &epoch));
  CHECK(napi_get_value_double(env, argv[4], &seq));
  if (!get_bytes(env, argv[1], &key, &klen) || klen != 16 || !get_bytes(env, argv[5], &pt, &len) || len > MAX_PLAINTEXT ||
      (suite != SUITE_CCM8 && suite != SUITE_GCM) || seq < 0 || seq > (double)MAX_SEQ) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "sealRecord: bad arguments");
    return NULL;
  }
  fastpath_t *t = test_ctx();
  uint8_t salt4[4] = {(uint8_t)((uint32_t)salt >> 24), (uint8_t)((uint32_t)salt >> 16), (uint8_t)((uint32_t)salt >> 8), (uint8_t)salt};
  void *data;
  napi_value buf;
  size_t rlen = 13 + 8 + len + (size_t)tag_length(suite);
  CHECK(napi_create_buffer(env, rlen, &data, &buf));
  if (t == NULL || aead_seal(t, suite, key, salt4, (uint16_t)epoch, (uint64_t)seq, pt, (int)len, data) < 0) {
    napi_throw_error(env, "ERR_DTLS_NATIVE", "seal failed");
    return NULL;
  }
  return buf;
}

static napi_value js_open_record(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t suite, salt;
  uint8_t *key, *rec;
  size_t klen, len;
  CHECK(napi_get_value_int32(env, argv[0], &suite));
  CHECK(napi_get_value_int32(env, argv[2], &salt));
  napi_value nul;
  napi_get_null(env, &nul);
  if (!get_bytes(env, argv[1], &key, &klen) || klen != 16 || !get_bytes(env, argv[3], &rec, &len) || (suite != SUITE_CCM8 && suite != SUITE_GCM)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "openRecord: bad arguments");
    return NULL;
  }
  if (len < 13) return nul;
  uint16_t flen = (uint16_t)((rec[11] << 8) | rec[12]);
  if ((size_t)flen + 13 != len) return nul;
  uint64_t seq = 0;
  for (int i = 0; i < 6; i++) seq = (seq << 8) | rec[5 + i];
  fastpath_t *t = test_ctx();
  uint8_t salt4[4] = {(uint8_t)((uint32_t)salt >> 24), (uint8_t)((uint32_t)salt >> 16), (uint8_t)((uint32_t)salt >> 8), (uint8_t)salt};
  uint8_t *out = malloc(flen + 16);
  if (t == NULL || out == NULL) {
    free(out);
    return nul;
  }
  int n = aead_open(t, suite, key, salt4, (uint16_t)((rec[3] << 8) | rec[4]), seq, rec[0], (uint16_t)((rec[1] << 8) | rec[2]), rec + 13, flen, out);
  if (n < 0) {
    free(out);
    return nul;
  }
  napi_value buf;
  void *data;
  CHECK(napi_create_buffer_copy(env, (size_t)n, out, &data, &buf));
  OPENSSL_cleanse(out, (size_t)n);
  free(out);
  return buf;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"register", NULL, js_register, NULL, NULL, NULL, napi_default, NULL},
      {"take", NULL, js_take, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
      {"sendRaw", NULL, js_send_raw, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"sealRecord", NULL, js_seal_record, NULL, NULL, NULL, napi_default, NULL},
      {"openRecord", NULL, js_open_record, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value cap;
  napi_create_uint32(env, OUT_CAPACITY, &cap);
  napi_set_named_property(env, exports, "outputCapacity", cap);
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

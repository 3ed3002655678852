/* fanout-floor: the physical floor of bench/compare.sh's shared-stream scenarios.
 *
 *   cc -O2 -pthread -o fanout-floor bench/fanout-floor.c
 *   fanout-floor LISTEN_PORT BACKEND_PORT      (127.0.0.1 only; SIGTERM or SIGINT ends it)
 *
 * What any proxy that collapses one conversation's clients onto one upstream stream cannot
 * avoid doing on this machine, and nothing else: accept a client, read its request head,
 * answer one fixed response head; for the first client of a conversation open ONE upstream
 * request (`GET <the client's target>`) to the backend; then per upstream read, decode the
 * chunked body once, frame what it carried as ONE HTTP chunk, and make ONE write() of it
 * per client. No replay (a client that joins late gets what comes after it joined), no
 * event parsing, no ids, no headers policy, no limits beyond fixed bounds, no timers. The
 * CPU it spends per delivered event, and per connection set-up, is the floor the relay and
 * nginx are compared with.
 *
 * Two threads, like the relay's two event loops and nginx's two workers: each has its own
 * epoll, its own SO_REUSEPORT listening socket (the kernel spreads the clients) and its own
 * clients. The thread that accepted a conversation's first client owns its upstream; it
 * writes each frame to its own clients, then hands a copy to the other thread (a queue and
 * an eventfd), which writes it to its clients. Level-triggered epoll, non-blocking sockets;
 * a client whose write would block (or would be partial) is dropped and counted. The upstream
 * ending ends its clients' streams (`0\r\n\r\n`). Counters go to stderr on exit.
 *
 * Not a product: HTTP/1.1 GET only, no keep-alive after a stream, the upstream connect is
 * blocking (loopback), an upstream stays open after its last client left, and a conversation
 * slot is never reused (MAX_CONV per process).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

enum { THREADS = 2, MAX_CONV = 4096, ID_MAX = 128, HEAD_MAX = 4096, READ_MAX = 65536,
       MAX_QUEUED = 65536, ACCEPTS_PER_WAKE = 256, BACKLOG = 65535 };
enum { FREE, LISTENER, WAKER, CLIENT_HEAD, CLIENT, UPSTREAM, CLOSING };
enum { CHUNK_SIZE, CHUNK_DATA, CHUNK_DATA_END, CHUNK_END };

static const char RESPONSE_HEAD[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                    "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n";

struct fdinfo { int kind, conv, slot, head_len; char *head; };     /* indexed by fd */
struct list { int *fds, n, cap; };                                 /* one thread's clients */
struct conv {
  char id[ID_MAX]; int ended;                    /* under conv_lock */
  int upstream, owner;                           /* the owner thread reads the upstream */
  char head[HEAD_MAX]; int head_len, head_done;  /* upstream response head (owner only) */
  int state, digits, ext; size_t left;           /* chunked decoder (owner only) */
  struct list clients[THREADS];                  /* clients[t]: thread t only */
};
struct msg { struct msg *next; int conv, last; size_t len; char data[]; };
struct loop {
  int index, epfd, listener, waker;
  pthread_mutex_t lock; struct msg *first, *last_msg; int queued;  /* frames from the other */
  int *closing, nclosing;                        /* closed after the epoll batch (see run) */
};

static struct fdinfo *fds; static int fdcap;
static struct conv convs[MAX_CONV]; static int nconv;
static pthread_mutex_t conv_lock = PTHREAD_MUTEX_INITIALIZER;
static struct loop loops[THREADS];
static int backend_port;
static atomic_ulong accepted, upstreams, dropped, overflows;

/* Closing is deferred to the end of the epoll batch: an fd number closed here could be reused
 * at once by the other thread's accept while a stale event for it is still in this batch. */
static void close_later(struct loop *l, int fd) {
  if (fds[fd].kind == CLOSING) return;
  if (fds[fd].kind == CLIENT) {
    struct list *c = &convs[fds[fd].conv].clients[l->index];
    int slot = fds[fd].slot, moved = c->fds[--c->n];
    c->fds[slot] = moved; fds[moved].slot = slot;
  }
  free(fds[fd].head); fds[fd].head = NULL;
  fds[fd].kind = CLOSING;
  l->closing[l->nclosing++] = fd;
}

static void add_fd(struct loop *l, int fd, int kind) {
  fds[fd] = (struct fdinfo){ .kind = kind, .conv = -1 };
  struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
  epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* One write per client; backwards, so a dropped client's swap-remove moves a done one. A
 * client whose write would block (or was partial) is dropped and counted; one that failed
 * (it closed, and the read that says so has not come yet) is only closed. */
static void send_to_clients(struct loop *l, int ci, const char *data, size_t len, int last) {
  struct list *c = &convs[ci].clients[l->index];
  for (int i = c->n - 1; i >= 0; i--) {
    int fd = c->fds[i];
    ssize_t w = write(fd, data, len);
    if (w == (ssize_t)len && !last) continue;
    if (w >= 0 ? w != (ssize_t)len : errno == EAGAIN) atomic_fetch_add(&dropped, 1);
    close_later(l, fd);
  }
}

static void broadcast(struct loop *l, int ci, const char *data, size_t len, int last) {
  send_to_clients(l, ci, data, len, last);
  for (int t = 0; t < THREADS; t++) {
    if (t == l->index) continue;
    struct loop *o = &loops[t];
    struct msg *m = malloc(sizeof *m + len);
    if (!m) { atomic_fetch_add(&overflows, 1); continue; }
    *m = (struct msg){ .conv = ci, .last = last, .len = len };
    memcpy(m->data, data, len);
    pthread_mutex_lock(&o->lock);
    if (o->queued >= MAX_QUEUED) { free(m); m = NULL; atomic_fetch_add(&overflows, 1); }
    else { if (o->last_msg) o->last_msg->next = m; else o->first = m; o->last_msg = m; o->queued++; }
    pthread_mutex_unlock(&o->lock);
    uint64_t one = 1;
    if (m && write(o->waker, &one, sizeof one) < 0) { /* the counter is already non-zero */ }
  }
}

static void on_waker(struct loop *l) {
  uint64_t n;
  if (read(l->waker, &n, sizeof n) < 0) return;
  pthread_mutex_lock(&l->lock);
  struct msg *m = l->first;
  l->first = l->last_msg = NULL; l->queued = 0;
  pthread_mutex_unlock(&l->lock);
  while (m) { struct msg *next = m->next; send_to_clients(l, m->conv, m->data, m->len, m->last); free(m); m = next; }
}

static void end_conversation(struct loop *l, int ci) {
  pthread_mutex_lock(&conv_lock);
  convs[ci].ended = 1; /* no new client joins it; those that did get the end below */
  pthread_mutex_unlock(&conv_lock);
  close_later(l, convs[ci].upstream);
  broadcast(l, ci, "0\r\n\r\n", 5, 1);
}

/* Decodes chunked body bytes into `out`; returns how many. CHUNK_END: the last chunk came, or
 * a malformed size line (either way the stream is over). */
static size_t decode(struct conv *c, const char *p, size_t n, char *out) {
  size_t o = 0, i = 0;
  while (i < n && c->state != CHUNK_END) {
    if (c->state == CHUNK_SIZE) {
      char ch = p[i++];
      if (ch == '\n') c->state = c->digits && c->left ? CHUNK_DATA : CHUNK_END;
      else if (c->ext || ch == '\r') continue;
      else if (ch == ';') c->ext = 1;
      else if (isxdigit((unsigned char)ch) && ++c->digits <= 8)
        c->left = c->left * 16 + (size_t)(isdigit((unsigned char)ch) ? ch - '0' : (ch | 32) - 'a' + 10);
      else c->state = CHUNK_END;
    } else if (c->state == CHUNK_DATA) {
      size_t k = c->left < n - i ? c->left : n - i;
      memcpy(out + o, p + i, k); o += k; i += k; c->left -= k;
      if (c->left == 0) c->state = CHUNK_DATA_END;
    } else if (p[i++] == '\n') { c->state = CHUNK_SIZE; c->digits = c->ext = 0; c->left = 0; }
  }
  return o;
}

static void on_upstream(struct loop *l, int ci) {
  struct conv *c = &convs[ci];
  char in[READ_MAX], frame[16 + READ_MAX + 2];
  ssize_t n = read(c->upstream, in, sizeof in);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) { end_conversation(l, ci); return; }
  size_t at = 0;
  if (!c->head_done) { /* the response head: 200 and chunked, or the conversation ends */
    size_t room = HEAD_MAX - 1 - (size_t)c->head_len, take = (size_t)n < room ? (size_t)n : room;
    memcpy(c->head + c->head_len, in, take); c->head_len += (int)take; c->head[c->head_len] = 0;
    char *end = strstr(c->head, "\r\n\r\n");
    if (!end) { if (c->head_len == HEAD_MAX - 1) end_conversation(l, ci); return; }
    at = take - (size_t)(c->head_len - (end + 4 - c->head));
    c->head_done = 1;
    if (strncmp(c->head, "HTTP/1.1 200", 12) != 0 || !strcasestr(c->head, "chunked")) {
      end_conversation(l, ci); return;
    }
  }
  size_t len = decode(c, in + at, (size_t)n - at, frame + 16);
  if (len > 0) { /* one frame: hex size CRLF, the bytes, CRLF */
    char size[16]; int sl = snprintf(size, sizeof size, "%zx\r\n", len);
    memcpy(frame + 16 - sl, size, (size_t)sl); memcpy(frame + 16 + len, "\r\n", 2);
    broadcast(l, ci, frame + 16 - sl, (size_t)sl + len + 2, 0);
  }
  if (c->state == CHUNK_END) end_conversation(l, ci);
}

static int open_upstream(const char *target) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)backend_port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  char req[HEAD_MAX + 128];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: text/event-stream\r\n\r\n",
                   target, backend_port);
  if (fd < 0 || fd >= fdcap || connect(fd, (struct sockaddr *)&a, sizeof a) < 0 || write(fd, req, (size_t)n) != n) {
    if (fd >= 0) close(fd);
    return -1;
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, O_NONBLOCK);
  return fd;
}

static void refuse(struct loop *l, int fd, const char *status) {
  char response[128];
  int n = snprintf(response, sizeof response, "HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status);
  if (write(fd, response, (size_t)n) < 0) { /* closing anyway */ }
  close_later(l, fd);
}

/* A client's request head is complete: join its conversation (opening the upstream if it is
 * the first client), answer the response head, and from now on get the frames. */
static void join(struct loop *l, int fd, const char *id, const char *target) {
  pthread_mutex_lock(&conv_lock);
  int ci = -1;
  for (int i = 0; i < nconv && ci < 0; i++) if (!convs[i].ended && strcmp(convs[i].id, id) == 0) ci = i;
  if (ci < 0 && nconv < MAX_CONV) {
    int up = open_upstream(target);
    if (up >= 0) {
      ci = nconv++;
      struct conv *c = &convs[ci];
      snprintf(c->id, sizeof c->id, "%s", id);
      c->upstream = up; c->owner = l->index;
      add_fd(l, up, UPSTREAM); fds[up].conv = ci;
      atomic_fetch_add(&upstreams, 1);
    }
  }
  pthread_mutex_unlock(&conv_lock);
  if (ci < 0) { refuse(l, fd, "502 Bad Gateway"); return; }
  if (write(fd, RESPONSE_HEAD, sizeof RESPONSE_HEAD - 1) != sizeof RESPONSE_HEAD - 1) { close_later(l, fd); return; }
  struct list *c = &convs[ci].clients[l->index];
  if (c->n == c->cap) {
    int cap = c->cap ? c->cap * 2 : 64;
    int *grown = realloc(c->fds, (size_t)cap * sizeof *grown);
    if (!grown) { close_later(l, fd); return; }
    c->fds = grown; c->cap = cap;
  }
  free(fds[fd].head); fds[fd].head = NULL;
  fds[fd].kind = CLIENT; fds[fd].conv = ci; fds[fd].slot = c->n;
  c->fds[c->n++] = fd;
}

static void on_client_head(struct loop *l, int fd) {
  struct fdinfo *f = &fds[fd];
  if (!f->head && !(f->head = malloc(HEAD_MAX))) { close_later(l, fd); return; }
  ssize_t n = read(fd, f->head + f->head_len, (size_t)(HEAD_MAX - 1 - f->head_len));
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) { close_later(l, fd); return; }
  f->head_len += (int)n; f->head[f->head_len] = 0;
  if (!strstr(f->head, "\r\n\r\n")) { if (f->head_len == HEAD_MAX - 1) refuse(l, fd, "431 Too Large"); return; }
  /* GET /api/conversation/{id}/stream[?query] HTTP/1.1 */
  static const char prefix[] = "GET /api/conversation/";
  char *target = f->head + 4, *id = f->head + sizeof prefix - 1, *space = strchr(target, ' ');
  char *slash = strncmp(f->head, prefix, sizeof prefix - 1) == 0 ? strchr(id, '/') : NULL;
  if (!space || !slash || slash > space || slash - id >= ID_MAX || strncmp(slash, "/stream", 7) != 0) {
    refuse(l, fd, "404 Not Found"); return;
  }
  char conversation[ID_MAX];
  memcpy(conversation, id, (size_t)(slash - id)); conversation[slash - id] = 0;
  *space = 0;
  join(l, fd, conversation, target);
}

static void on_client(struct loop *l, int fd) { /* a streaming client only ever closes */
  char sink[512];
  ssize_t n = read(fd, sink, sizeof sink);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) close_later(l, fd);
}

static void on_listener(struct loop *l) {
  for (int i = 0; i < ACCEPTS_PER_WAKE; i++) {
    int fd = accept4(l->listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
    if (fd < 0) return;
    if (fd >= fdcap) { close(fd); continue; }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    add_fd(l, fd, CLIENT_HEAD);
    atomic_fetch_add(&accepted, 1);
  }
}

static void *run(void *arg) {
  struct loop *l = arg;
  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(l->epfd, events, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      switch (fds[fd].kind) {
        case LISTENER: on_listener(l); break;
        case WAKER: on_waker(l); break;
        case CLIENT_HEAD: on_client_head(l, fd); break;
        case CLIENT: on_client(l, fd); break;
        case UPSTREAM: on_upstream(l, fds[fd].conv); break;
        default: break; /* CLOSING: closed below */
      }
    }
    for (int i = 0; i < l->nclosing; i++) { fds[l->closing[i]].kind = FREE; close(l->closing[i]); }
    l->nclosing = 0;
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: %s LISTEN_PORT BACKEND_PORT\n", argv[0]); return 2; }
  int port = atoi(argv[1]);
  backend_port = atoi(argv[2]);
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  fdcap = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1 << 20) ? 1 << 20 : (int)rl.rlim_cur;
  fds = calloc((size_t)fdcap, sizeof *fds);
  signal(SIGPIPE, SIG_IGN);
  sigset_t stop;
  sigemptyset(&stop); sigaddset(&stop, SIGTERM); sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, NULL); /* the threads inherit it; main waits for it */
  for (int t = 0; t < THREADS; t++) {
    struct loop *l = &loops[t];
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (!fds || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, BACKLOG) < 0) {
      perror("fanout-floor: listen"); return 1;
    }
    *l = (struct loop){ .index = t, .epfd = epoll_create1(EPOLL_CLOEXEC), .listener = s,
                        .waker = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), .closing = calloc((size_t)fdcap, sizeof(int)) };
    pthread_mutex_init(&l->lock, NULL);
    add_fd(l, l->listener, LISTENER);
    add_fd(l, l->waker, WAKER);
  }
  pthread_t threads[THREADS];
  for (int t = 0; t < THREADS; t++) pthread_create(&threads[t], NULL, run, &loops[t]);
  int sig;
  sigwait(&stop, &sig);
  fprintf(stderr, "fanout-floor: %lu clients accepted, %lu upstream streams, %lu clients dropped "
          "(write would block), %lu frames lost (queue full)\n",
          atomic_load(&accepted), atomic_load(&upstreams), atomic_load(&dropped), atomic_load(&overflows));
  return 0; /* ends the threads; the kernel closes every socket */
}

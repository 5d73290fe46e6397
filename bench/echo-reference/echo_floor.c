// echo_floor: the least a TCP echo server can do per request on Linux, used to find the floor of the shared
// echo workload on this machine (docs/benchmarks.md, "the floor of the echo workload"). Not part of Kyoto.
//
//   apt-get install -y gcc liburing-dev
//   gcc -O2 -o /tmp/echo_floor bench/echo-reference/echo_floor.c -luring -lpthread
//   /tmp/echo_floor PORT [uring|epoll] [THREADS]      (defaults: uring, 1 thread)
//
// uring: one io_uring per thread (single issuer, deferred task work), a multishot accept, and per connection
// a recv completion that submits the send and a send completion that submits the next recv; every loop turn
// is one io_uring_enter for all connections. No user-space work besides that.
// epoll: edge-triggered epoll, recv until a short read, send back; the same shape as Tokio's and Kyoto's.
// With THREADS > 1 each thread has its own listener on the port (SO_REUSEPORT), so the kernel spreads the
// connections by hash, unevenly.
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { KIND_ACCEPT = 1, KIND_RECV = 2, KIND_SEND = 3 };
struct conn { int fd; int kind; char buf[4096]; };

static int port;
static int use_epoll;

static int listen_on_port(int nonblocking)
{
    int fd = socket(AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 1024) != 0) {
        perror("listen");
        exit(1);
    }
    return fd;
}

static struct conn *new_conn(int fd, int kind)
{
    struct conn *c = calloc(1, sizeof *c);
    int on = 1;
    c->fd = fd;
    c->kind = kind;
    if (kind != KIND_ACCEPT) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    return c;
}

static void queue_op(struct io_uring *ring, struct conn *c, int kind, int len)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    c->kind = kind;
    if (kind == KIND_RECV) io_uring_prep_recv(sqe, c->fd, c->buf, sizeof c->buf, 0);
    else io_uring_prep_send(sqe, c->fd, c->buf, len, MSG_NOSIGNAL);
    io_uring_sqe_set_data(sqe, c);
}

static void *serve_uring(void *unused)
{
    struct io_uring ring;
    struct io_uring_params params = { .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN };
    int err = io_uring_queue_init_params(1024, &ring, &params);
    if (err) {
        fprintf(stderr, "io_uring_queue_init_params: %s\n", strerror(-err));
        exit(1);
    }
    struct conn *acceptor = new_conn(listen_on_port(0), KIND_ACCEPT);
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    io_uring_prep_multishot_accept(sqe, acceptor->fd, NULL, NULL, 0);
    io_uring_sqe_set_data(sqe, acceptor);
    for (;;) {
        io_uring_submit_and_wait(&ring, 1);
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            struct conn *c = io_uring_cqe_get_data(cqe);
            int res = cqe->res;
            seen++;
            if (c->kind == KIND_ACCEPT) {
                if (res >= 0) queue_op(&ring, new_conn(res, KIND_RECV), KIND_RECV, 0);
            } else if (res <= 0) {
                close(c->fd);
                free(c);
            } else {
                queue_op(&ring, c, c->kind == KIND_RECV ? KIND_SEND : KIND_RECV, res);
            }
        }
        io_uring_cq_advance(&ring, seen);
    }
    return NULL;
}

static void *serve_epoll(void *unused)
{
    int ep = epoll_create1(0), listener = listen_on_port(1);
    struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.ptr = NULL }, events[256];
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c == NULL) {
                int fd;
                while ((fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    struct epoll_event cev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = new_conn(fd, KIND_RECV) };
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            for (;;) {
                ssize_t got = recv(c->fd, c->buf, sizeof c->buf, 0);
                if (got < 0 && errno == EAGAIN) break;
                if (got <= 0) { close(c->fd); free(c); break; }
                send(c->fd, c->buf, (size_t)got, MSG_NOSIGNAL);
                if (got < (ssize_t)sizeof c->buf) break; // a short read drained the socket: wait for the next edge
            }
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: echo_floor PORT [uring|epoll] [THREADS]\n");
        return 2;
    }
    port = atoi(argv[1]);
    use_epoll = argc > 2 && strcmp(argv[2], "epoll") == 0;
    int threads = argc > 3 ? atoi(argv[3]) : 1;
    pthread_t ids[64];
    for (int i = 0; i < threads && i < 64; i++) pthread_create(&ids[i], NULL, use_epoll ? serve_epoll : serve_uring, NULL);
    pthread_join(ids[0], NULL);
    return 0;
}

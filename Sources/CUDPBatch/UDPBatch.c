#define _GNU_SOURCE
#include "CUDPBatch.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { MAX_BATCH = 256 };

/// An IPv4 or IPv6 socket address: what `sendmmsg` needs per message, smaller than
/// sockaddr_storage (a segmented send builds up to 1,024 of them on the stack).
typedef union {
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
} small_addr;

static socklen_t to_sockaddr(const giaoban_addr *a, void *out) {
    small_addr *ss = (small_addr *)out;
    memset(ss, 0, sizeof(*ss));
    if (a->family == 6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(a->port);
        memcpy(&s6->sin6_addr, a->addr, 16);
        return sizeof(*s6);
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons(a->port);
    memcpy(&s4->sin_addr, a->addr, 4);
    return sizeof(*s4);
}

static void from_sockaddr(const struct sockaddr_storage *ss, giaoban_addr *a) {
    memset(a, 0, sizeof(*a));
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        a->family = 6;
        a->port = ntohs(s6->sin6_port);
        memcpy(a->addr, &s6->sin6_addr, 16);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        a->family = 4;
        a->port = ntohs(s4->sin_port);
        memcpy(a->addr, &s4->sin_addr, 4);
    }
}

/// Opens a non-blocking socket of `type` bound to `ip`:`port`: a UDP one with large kernel
/// buffers, or a TCP one with SO_REUSEADDR, listening. Returns the descriptor or -errno.
static int open_bound(const char *ip, uint16_t port, int type, uint16_t *bound_port) {
    giaoban_addr a = {0};
    struct sockaddr_storage ss;
    if (inet_pton(AF_INET, ip, a.addr) == 1) {
        a.family = 4;
    } else if (inet_pton(AF_INET6, ip, a.addr) == 1) {
        a.family = 6;
    } else {
        return -EINVAL;
    }
    a.port = port;
    socklen_t len = to_sockaddr(&a, &ss);
    int fd = socket(a.family == 6 ? AF_INET6 : AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (type == SOCK_DGRAM) {
        int size = 8 * 1024 * 1024;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    } else {
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || (type == SOCK_STREAM && listen(fd, 128) != 0)) {
        int e = errno;
        close(fd);
        return -e;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0 && bound_port) {
        giaoban_addr b;
        from_sockaddr(&bound, &b);
        *bound_port = b.port;
    }
    return fd;
}

int giaoban_udp_open(const char *ip, uint16_t port, uint16_t *bound_port) {
    return open_bound(ip, port, SOCK_DGRAM, bound_port);
}

int giaoban_tcp_listen(const char *ip, uint16_t port, uint16_t *bound_port) {
    return open_bound(ip, port, SOCK_STREAM, bound_port);
}

int giaoban_tcp_accept(int fd, giaoban_addr *peer) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int c = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) return -errno;
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    from_sockaddr(&ss, peer);
    return c;
}

int giaoban_tcp_connect(const giaoban_addr *remote, int timeout_ms) {
    struct sockaddr_storage ss;
    socklen_t len = to_sockaddr(remote, &ss);
    int fd = socket(remote->family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
        if (errno != EINPROGRESS) {
            int e = errno;
            close(fd);
            return -e;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int r;
        do { r = poll(&p, 1, timeout_ms); } while (r < 0 && errno == EINTR);
        int error = r == 0 ? ETIMEDOUT : 0;
        socklen_t elen = sizeof(error);
        if (r < 0) error = errno;
        else if (r > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &elen) != 0) error = errno;
        if (error != 0) {
            close(fd);
            return -error;
        }
    }
    return fd;
}

int giaoban_tcp_wait(int fd, int timeout_ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, timeout_ms);
    if (r < 0) return errno == EINTR ? 0 : -errno;
    return r;
}

int giaoban_tcp_write(int fd, const uint8_t *data, int length) {
    for (;;) {
        ssize_t n = send(fd, data, (size_t)length, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) return (int)n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        return -errno;
    }
}

int giaoban_tcp_read(int fd, uint8_t *buffer, int capacity) {
    for (;;) {
        ssize_t n = recv(fd, buffer, (size_t)capacity, MSG_DONTWAIT);
        if (n >= 0) return (int)n;
        if (errno == EINTR) continue;
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

int giaoban_udp_recv_batch(int fd, uint8_t *buf, int slot_size, int count, int *lengths,
                           giaoban_addr *addrs, int timeout_ms) {
    if (count > MAX_BATCH) count = MAX_BATCH;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, timeout_ms);
    if (r < 0) return errno == EINTR ? 0 : -errno;
    if (r == 0) return 0;
    struct mmsghdr msgs[MAX_BATCH];
    struct iovec iovs[MAX_BATCH];
    struct sockaddr_storage names[MAX_BATCH];
    for (int i = 0; i < count; i++) {
        iovs[i].iov_base = buf + (size_t)i * slot_size;
        iovs[i].iov_len = (size_t)slot_size;
        memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &names[i];
        msgs[i].msg_hdr.msg_namelen = sizeof(names[i]);
    }
    int n = recvmmsg(fd, msgs, (unsigned)count, MSG_DONTWAIT, NULL);
    if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        lengths[i] = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? -1 : (int)msgs[i].msg_len;
        from_sockaddr(&names[i], &addrs[i]);
    }
    return n;
}

/// Sends `count` slots as single datagrams, MAX_BATCH per sendmmsg; returns the number the
/// kernel took.
static int send_single(int fd, const uint8_t *buf, int slot_size, const int *lengths, const giaoban_addr *addrs,
                       int count) {
    int sent = 0;
    while (sent < count) {
        int chunk = count - sent > MAX_BATCH ? MAX_BATCH : count - sent;
        struct mmsghdr msgs[MAX_BATCH];
        struct iovec iovs[MAX_BATCH];
        struct sockaddr_storage names[MAX_BATCH];
        for (int i = 0; i < chunk; i++) {
            int k = sent + i;
            iovs[i].iov_base = (void *)(buf + (size_t)k * slot_size);
            iovs[i].iov_len = (size_t)lengths[k];
            memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
            msgs[i].msg_hdr.msg_iov = &iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &names[i];
            msgs[i].msg_hdr.msg_namelen = to_sockaddr(&addrs[k], &names[i]);
        }
        int n = sendmmsg(fd, msgs, (unsigned)chunk, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                struct pollfd p = {.fd = fd, .events = POLLOUT};
                if (poll(&p, 1, 5) <= 0) return sent;  // kernel buffer full: drop the rest
                continue;
            }
            // One bad destination must not block the batch: skip it.
            sent += 1;
            continue;
        }
        sent += n;
    }
    return sent;
}

// UDP segmentation offload (Linux 4.18+): one sendmsg carries several datagrams to the same
// destination, all of `gso_size` bytes but the last (which may be shorter); the kernel walks
// its send path once and splits them late (on the NIC, or on loopback at delivery).
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif
// A segmented flush groups up to MAX_GROUPED slots at once (UIO_MAXIOV, the most messages one
// sendmmsg takes): a frame of six packets fanned out to 170 peers of one lane still groups whole.
enum { MAX_SEGMENTS = 64, MAX_SEGMENTED_BYTES = 60000, MAX_GROUPED = 1024, TABLE_SIZE = 2 * MAX_GROUPED };

/// Set once the kernel refused a segmented send (a device without checksum offload, a path
/// whose MTU is below a segment): from then on every datagram goes out on its own.
static _Atomic int segmentation_off;
static _Atomic uint64_t segmented_sends;
static _Atomic uint64_t segmented_datagrams;

static int same_addr(const giaoban_addr *a, const giaoban_addr *b) {
    return a->family == b->family && a->port == b->port && memcmp(a->addr, b->addr, a->family == 6 ? 16 : 4) == 0;
}

static unsigned addr_hash(const giaoban_addr *a) {
    uint32_t h = 2166136261u;
    h = (h ^ a->family) * 16777619u;
    h = (h ^ (a->port & 0xff)) * 16777619u;
    h = (h ^ (a->port >> 8)) * 16777619u;
    int n = a->family == 6 ? 16 : 4;
    for (int i = 0; i < n; i++) h = (h ^ a->addr[i]) * 16777619u;
    return h ^ (h >> 15);
}

/// Sends `count` (≤ MAX_GROUPED) slots, grouping the slots bound for one destination (in their
/// order) into segmented sends where their sizes allow; slots for different destinations may
/// leave in another order than queued. Returns the number of datagrams the kernel took.
static int send_segmented(int fd, const uint8_t *buf, int slot_size, const int *lengths, const giaoban_addr *addrs,
                          int count) {
    int table[TABLE_SIZE];
    int head[MAX_GROUPED], tail[MAX_GROUPED], next[MAX_GROUPED];
    int groups = 0;
    memset(table, -1, sizeof(table));
    for (int i = 0; i < count; i++) {
        next[i] = -1;
        unsigned h = addr_hash(&addrs[i]) & (TABLE_SIZE - 1);
        while (table[h] >= 0 && !same_addr(&addrs[head[table[h]]], &addrs[i])) h = (h + 1) & (TABLE_SIZE - 1);
        if (table[h] < 0) {
            table[h] = groups;
            head[groups] = tail[groups] = i;
            groups++;
        } else {
            int g = table[h];
            next[tail[g]] = i;
            tail[g] = i;
        }
    }
    if (groups == count) return send_single(fd, buf, slot_size, lengths, addrs, count);

    struct mmsghdr msgs[MAX_GROUPED];
    struct iovec iovs[MAX_GROUPED];
    small_addr names[MAX_GROUPED];
    union { char bytes[CMSG_SPACE(sizeof(uint16_t))]; struct cmsghdr align; } control[MAX_GROUPED];
    int m = 0, k = 0;
    for (int g = 0; g < groups; g++) {
        int i = head[g];
        while (i >= 0) {
            // A new message starting at slot i: add the group's next slots while they are as
            // long as the first; a shorter one ends it.
            int size = lengths[i], segments = 1, bytes = size, start = k;
            iovs[k].iov_base = (void *)(buf + (size_t)i * slot_size);
            iovs[k].iov_len = (size_t)size;
            k++;
            int j = next[i];
            int open = size > 0;
            while (open && j >= 0 && lengths[j] > 0 && lengths[j] <= size && segments < MAX_SEGMENTS &&
                   bytes + lengths[j] <= MAX_SEGMENTED_BYTES) {
                iovs[k].iov_base = (void *)(buf + (size_t)j * slot_size);
                iovs[k].iov_len = (size_t)lengths[j];
                k++;
                segments++;
                bytes += lengths[j];
                open = lengths[j] == size;
                j = next[j];
            }
            struct msghdr *h = &msgs[m].msg_hdr;
            memset(h, 0, sizeof(*h));
            h->msg_iov = &iovs[start];
            h->msg_iovlen = (size_t)segments;
            h->msg_name = &names[m];
            h->msg_namelen = to_sockaddr(&addrs[i], &names[m]);
            if (segments > 1) {
                h->msg_control = control[m].bytes;
                h->msg_controllen = sizeof(control[m].bytes);
                struct cmsghdr *c = CMSG_FIRSTHDR(h);
                c->cmsg_level = SOL_UDP;
                c->cmsg_type = UDP_SEGMENT;
                c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
                uint16_t gso = (uint16_t)size;
                memcpy(CMSG_DATA(c), &gso, sizeof(gso));
            }
            m++;
            i = j;
        }
    }

    int sent = 0, done = 0;
    uint64_t sends = 0, datagrams = 0;
    while (done < m) {
        int n = sendmmsg(fd, &msgs[done], (unsigned)(m - done), 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                struct pollfd p = {.fd = fd, .events = POLLOUT};
                if (poll(&p, 1, 5) <= 0) break;  // kernel buffer full: drop the rest
                continue;
            }
            struct msghdr *h = &msgs[done].msg_hdr;
            if (h->msg_iovlen > 1 && (errno == EIO || errno == EINVAL || errno == EMSGSIZE || errno == EOPNOTSUPP ||
                                      errno == ENOPROTOOPT)) {
                // The kernel does not take segmented sends here (EIO: no checksum offload on
                // the device; EINVAL: a segment above the path's MTU): send this message's
                // datagrams one by one, and never segment again.
                segmentation_off = 1;
                for (size_t s = 0; s < h->msg_iovlen; s++) {
                    if (sendto(fd, h->msg_iov[s].iov_base, h->msg_iov[s].iov_len, 0, (struct sockaddr *)h->msg_name,
                               h->msg_namelen) >= 0)
                        sent++;
                }
            }
            // One bad destination must not block the batch: skip it.
            done += 1;
            continue;
        }
        for (int i = done; i < done + n; i++) {
            int segments = (int)msgs[i].msg_hdr.msg_iovlen;
            sent += segments;
            if (segments > 1) {
                sends++;
                datagrams += (uint64_t)segments;
            }
        }
        done += n;
    }
    if (sends) {
        segmented_sends += sends;
        segmented_datagrams += datagrams;
    }
    return sent;
}

int giaoban_udp_send_batch(int fd, const uint8_t *buf, int slot_size, const int *lengths,
                           const giaoban_addr *addrs, int count, int segment) {
    if (!segment || segmentation_off) return send_single(fd, buf, slot_size, lengths, addrs, count);
    int sent = 0;
    for (int start = 0; start < count; start += MAX_GROUPED) {
        int chunk = count - start > MAX_GROUPED ? MAX_GROUPED : count - start;
        sent += segmentation_off
                    ? send_single(fd, buf + (size_t)start * slot_size, slot_size, lengths + start, addrs + start, chunk)
                    : send_segmented(fd, buf + (size_t)start * slot_size, slot_size, lengths + start, addrs + start, chunk);
    }
    return sent;
}

void giaoban_udp_segmentation_stats(uint64_t *sends, uint64_t *datagrams, int *off) {
    *sends = segmented_sends;
    *datagrams = segmented_datagrams;
    *off = segmentation_off;
}

int giaoban_udp_send_one(int fd, const uint8_t *data, int length, const giaoban_addr *addr) {
    struct sockaddr_storage ss;
    socklen_t len = to_sockaddr(addr, &ss);
    ssize_t n = sendto(fd, data, (size_t)length, 0, (struct sockaddr *)&ss, len);
    return n < 0 ? -errno : (int)n;
}

void giaoban_udp_close(int fd) { close(fd); }

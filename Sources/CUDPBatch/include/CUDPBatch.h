// Socket I/O for the media loop: batched UDP (recvmmsg/sendmmsg are not visible through Swift's
// Glibc module) and the ICE-TCP listener's non-blocking TCP calls; built with _GNU_SOURCE.
#ifndef GIAOBAN_UDP_BATCH_H
#define GIAOBAN_UDP_BATCH_H
#include <stdint.h>

/// A transport address: family 4 or 6, port in host order, address bytes in network order
/// (IPv4 uses the first 4 bytes).
typedef struct {
    uint8_t family;
    uint16_t port;
    uint8_t addr[16];
} giaoban_addr;

/// Opens a non-blocking UDP socket bound to `ip`:`port` (port 0 picks one) with large
/// kernel buffers. Returns the descriptor, or -errno. `bound_port` receives the port.
int giaoban_udp_open(const char *ip, uint16_t port, uint16_t *bound_port);

/// Waits up to `timeout_ms` for datagrams, then reads up to `count` with one recvmmsg into
/// `count` slots of `slot_size` bytes at `buf`. `lengths[i]` is -1 for a truncated datagram.
/// Returns the number read (0 on timeout), or -errno.
int giaoban_udp_recv_batch(int fd, uint8_t *buf, int slot_size, int count, int *lengths,
                           giaoban_addr *addrs, int timeout_ms);

/// Sends `count` datagrams (slot i at buf + i*slot_size, lengths[i] bytes, to addrs[i]) with
/// sendmmsg. With `segment`, the datagrams bound for one destination go out together as one
/// segmented send (UDP_SEGMENT) where their sizes allow, in their order; datagrams for
/// different destinations may then leave in another order than queued. Returns the number sent.
int giaoban_udp_send_batch(int fd, const uint8_t *buf, int slot_size, const int *lengths,
                           const giaoban_addr *addrs, int count, int segment);

/// Segmented sends since start, the datagrams they carried, and 1 once the kernel refused one
/// (every datagram goes out on its own from then on).
void giaoban_udp_segmentation_stats(uint64_t *sends, uint64_t *datagrams, int *off);

/// Sends one datagram. Returns bytes sent or -errno.
int giaoban_udp_send_one(int fd, const uint8_t *data, int length, const giaoban_addr *addr);

/// Closes the socket.
void giaoban_udp_close(int fd);

/// Gives memory the allocator holds free back to the kernel (glibc: malloc_trim(0), which
/// also releases free pages inside its heaps); a no-op elsewhere. Returns 1 if any was released.
int giaoban_release_free_memory(void);
/// Opens a non-blocking TCP listening socket bound to `ip`:`port` (port 0 picks one) with
/// SO_REUSEADDR, for ICE-TCP passive candidates (RFC 6544). Returns the descriptor, or -errno.
int giaoban_tcp_listen(const char *ip, uint16_t port, uint16_t *bound_port);

/// Accepts one connection on a listening socket: non-blocking, close-on-exec, TCP_NODELAY.
/// Returns the descriptor and the peer's address, or -errno (-EAGAIN when none is waiting).
int giaoban_tcp_accept(int fd, giaoban_addr *peer);

/// Connects a non-blocking TCP socket (close-on-exec, TCP_NODELAY) to `remote`, waiting up to
/// `timeout_ms` for the handshake: the active side of ICE-TCP (RFC 6544) or a TURN client.
/// Returns the descriptor, or -errno (-ETIMEDOUT when the handshake did not finish).
int giaoban_tcp_connect(const giaoban_addr *remote, int timeout_ms);

/// Waits up to `timeout_ms` for `fd` to be readable (or closed). Returns 1 when it is, 0 on
/// timeout, or -errno.
int giaoban_tcp_wait(int fd, int timeout_ms);

/// Writes up to `length` bytes without blocking and without SIGPIPE. Returns the bytes
/// written, 0 when the kernel buffer is full, or -errno.
int giaoban_tcp_write(int fd, const uint8_t *data, int length);

/// Reads up to `capacity` bytes without blocking. Returns the bytes read, 0 at end of
/// stream, -EAGAIN when nothing is waiting, or another -errno.
int giaoban_tcp_read(int fd, uint8_t *buffer, int capacity);
/// Names the calling thread (the first 15 bytes of `name`).
void giaoban_set_thread_name(const char *name);

#endif

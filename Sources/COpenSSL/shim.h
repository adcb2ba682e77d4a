// OpenSSL 3 for Swift: the headers DTLS-SRTP needs plus wrappers for the macros
// Swift cannot import (SSL_CTX_set_min_proto_version, DTLS_set_link_mtu, the DTLS
// timer calls, SSL_set_app_data, SSL_OP_* constants, EVP_EC_gen, the BIO retry flags).
#ifndef GIAOBAN_COPENSSL_SHIM_H
#define GIAOBAN_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/pem.h>
#include <openssl/bio.h>
#include <openssl/rand.h>
#include <openssl/hmac.h>
#include <openssl/ec.h>
#include <openssl/srtp.h>
#include <openssl/sha.h>

static inline int giaoban_ssl_ctx_set_min_proto(SSL_CTX *ctx, int version) { return (int)SSL_CTX_set_min_proto_version(ctx, version); }
static inline int giaoban_ssl_ctx_set_max_proto(SSL_CTX *ctx, int version) { return (int)SSL_CTX_set_max_proto_version(ctx, version); }
static inline long giaoban_dtls_set_link_mtu(SSL *ssl, long mtu) { return DTLS_set_link_mtu(ssl, mtu); }
static inline long giaoban_ssl_set_mtu(SSL *ssl, long mtu) { return SSL_set_mtu(ssl, mtu); }
static inline long giaoban_dtls_get_timeout(SSL *ssl, struct timeval *tv) { return DTLSv1_get_timeout(ssl, tv); }
static inline long giaoban_dtls_handle_timeout(SSL *ssl) { return DTLSv1_handle_timeout(ssl); }
static inline int giaoban_ssl_set_app_data(SSL *ssl, void *data) { return SSL_set_app_data(ssl, data); }
static inline void *giaoban_ssl_get_app_data(const SSL *ssl) { return SSL_get_app_data(ssl); }
static inline uint64_t giaoban_ssl_set_options(SSL *ssl, uint64_t op) { return SSL_set_options(ssl, op); }
static inline uint64_t giaoban_ssl_ctx_set_options(SSL_CTX *ctx, uint64_t op) { return SSL_CTX_set_options(ctx, op); }
static inline long giaoban_ssl_ctx_set_read_ahead(SSL_CTX *ctx, int yes) { return SSL_CTX_set_read_ahead(ctx, yes); }
static inline EVP_PKEY *giaoban_evp_ec_gen_p256(void) { return EVP_EC_gen("P-256"); }
static inline int giaoban_bio_get_mem_data(BIO *bio, char **out) { return (int)BIO_get_mem_data(bio, out); }
static inline void giaoban_bio_set_data(BIO *bio, void *data) { BIO_set_data(bio, data); }
static inline void giaoban_bio_clear_retry_flags(BIO *bio) { BIO_clear_retry_flags(bio); }
static inline void giaoban_bio_set_retry_read(BIO *bio) { BIO_set_retry_read(bio); }
static inline long giaoban_ssl_ctx_set_session_cache_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_session_cache_mode(ctx, mode); }
// Microseconds until the DTLS retransmission timer fires, or -1 when no timer runs.
static inline long long giaoban_dtls_timeout_us(SSL *ssl) {
    struct timeval tv;
    if (DTLSv1_get_timeout(ssl, &tv) != 1) return -1;
    return (long long)tv.tv_sec * 1000000 + (long long)tv.tv_usec;
}

// SHA-1 on a caller-owned SHA_CTX, for SRTP's HMAC-SHA1 with the key pads hashed once per
// session: copying a SHA_CTX is a struct copy, while OpenSSL 3.0's EVP_MD_CTX_copy_ex (and so HMAC_Init_ex
// and EVP_MAC reuse) duplicates the provider's digest context, an allocation, on every call.
// Deprecated in OpenSSL 3.0 but present; wrapped here so Swift sees no deprecation.
static inline int giaoban_sha1_init(SHA_CTX *c) { return SHA1_Init(c); }
static inline int giaoban_sha1_update(SHA_CTX *c, const void *data, size_t len) { return SHA1_Update(c, data, len); }
static inline int giaoban_sha1_final(unsigned char *md, SHA_CTX *c) { return SHA1_Final(md, c); }

static const uint64_t GIAOBAN_SSL_OP_NO_QUERY_MTU = SSL_OP_NO_QUERY_MTU;
static const uint64_t GIAOBAN_SSL_OP_NO_TICKET = SSL_OP_NO_TICKET;
static const int GIAOBAN_DTLS1_2_VERSION = DTLS1_2_VERSION;
static const int GIAOBAN_BIO_CTRL_FLUSH = BIO_CTRL_FLUSH;
static const int GIAOBAN_BIO_CTRL_DGRAM_QUERY_MTU = BIO_CTRL_DGRAM_QUERY_MTU;
static const int GIAOBAN_BIO_CTRL_WPENDING = BIO_CTRL_WPENDING;
static const int GIAOBAN_BIO_CTRL_PENDING = BIO_CTRL_PENDING;
static const int GIAOBAN_SSL_VERIFY_PEER = SSL_VERIFY_PEER;
static const int GIAOBAN_SSL_VERIFY_FAIL_IF_NO_PEER_CERT = SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
static const long GIAOBAN_SSL_SESS_CACHE_OFF = SSL_SESS_CACHE_OFF;
static const int GIAOBAN_BIO_TYPE_SOURCE_SINK = BIO_TYPE_SOURCE_SINK;
static const int GIAOBAN_BIO_CTRL_DGRAM_GET_MTU_OVERHEAD = BIO_CTRL_DGRAM_GET_MTU_OVERHEAD;
#endif

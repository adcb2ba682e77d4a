// libsrtp2 for Swift: the public header; policy setters that are macro aliases are
// wrapped so Swift sees plain functions.
#ifndef GIAOBAN_CSRTP_SHIM_H
#define GIAOBAN_CSRTP_SHIM_H
#include <srtp2/srtp.h>

static inline void giaoban_srtp_policy_aes_cm_128_hmac_sha1_80(srtp_crypto_policy_t *p) {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(p);
}
static inline void giaoban_srtp_policy_aes_gcm_128(srtp_crypto_policy_t *p) {
    srtp_crypto_policy_set_aes_gcm_128_16_auth(p);
}
#endif

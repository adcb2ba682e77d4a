// libvpx for Swift: encoder/decoder headers plus wrappers for the macros Swift
// cannot import (vpx_codec_enc_init, the ABI version constants, variadic controls).
#ifndef GIAOBAN_CVPX_SHIM_H
#define GIAOBAN_CVPX_SHIM_H
#include <vpx/vpx_encoder.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vp8cx.h>
#include <vpx/vp8dx.h>

static inline vpx_codec_err_t giaoban_vpx_enc_init(vpx_codec_ctx_t *ctx, vpx_codec_iface_t *iface,
                                                   const vpx_codec_enc_cfg_t *cfg, vpx_codec_flags_t flags) {
    return vpx_codec_enc_init(ctx, iface, cfg, flags);
}
static inline vpx_codec_err_t giaoban_vpx_dec_init(vpx_codec_ctx_t *ctx, vpx_codec_iface_t *iface,
                                                   const vpx_codec_dec_cfg_t *cfg, vpx_codec_flags_t flags) {
    return vpx_codec_dec_init(ctx, iface, cfg, flags);
}
static inline vpx_codec_err_t giaoban_vpx_set_cpu_used(vpx_codec_ctx_t *ctx, int v) {
    return vpx_codec_control(ctx, VP8E_SET_CPUUSED, v);
}
static inline vpx_codec_err_t giaoban_vpx_set_static_threshold(vpx_codec_ctx_t *ctx, unsigned int v) {
    return vpx_codec_control(ctx, VP8E_SET_STATIC_THRESHOLD, v);
}
static inline vpx_codec_err_t giaoban_vpx_set_noise_sensitivity(vpx_codec_ctx_t *ctx, unsigned int v) {
    return vpx_codec_control(ctx, VP8E_SET_NOISE_SENSITIVITY, v);
}
static inline vpx_codec_err_t giaoban_vp8_set_token_partitions(vpx_codec_ctx_t *ctx, int v) {
    return vpx_codec_control(ctx, VP8E_SET_TOKEN_PARTITIONS, v);
}
static inline vpx_codec_err_t giaoban_vp9_set_aq_mode(vpx_codec_ctx_t *ctx, unsigned int v) {
    return vpx_codec_control(ctx, VP9E_SET_AQ_MODE, v);
}
static inline vpx_codec_err_t giaoban_vp9_set_row_mt(vpx_codec_ctx_t *ctx, unsigned int v) {
    return vpx_codec_control(ctx, VP9E_SET_ROW_MT, v);
}
/// Tells the VP8 encoder which temporal layer the next frame belongs to.
static inline vpx_codec_err_t giaoban_vpx_set_temporal_layer_id(vpx_codec_ctx_t *ctx, int v) {
    return vpx_codec_control(ctx, VP8E_SET_TEMPORAL_LAYER_ID, v);
}

/// The image pointer and stride of plane `i` (0 = Y, 1 = U, 2 = V): `planes`/`stride`
/// import into Swift as tuples, so read them here.
static inline unsigned char *giaoban_vpx_plane(const vpx_image_t *img, int i) { return img->planes[i]; }
static inline int giaoban_vpx_stride(const vpx_image_t *img, int i) { return img->stride[i]; }

/// Sets the temporal-layer fields of an encoder configuration (arrays import as tuples).
static inline void giaoban_vpx_cfg_set_layer(vpx_codec_enc_cfg_t *cfg, int layer,
                                             unsigned int target_bitrate_kbps, unsigned int rate_decimator) {
    cfg->ts_target_bitrate[layer] = target_bitrate_kbps;
    cfg->ts_rate_decimator[layer] = rate_decimator;
}
static inline void giaoban_vpx_cfg_set_layer_id(vpx_codec_enc_cfg_t *cfg, int index, unsigned int layer_id) {
    cfg->ts_layer_id[index] = layer_id;
}
#endif

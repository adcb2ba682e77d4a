internal import CVPX

/// The VPx codecs the relay carries (RFC 7741 VP8, RFC 9628 VP9).
public enum VPXCodec: String, Sendable, CaseIterable {
    /// VP8.
    case vp8
    /// VP9 (profile 0).
    case vp9

    var encoderInterface: OpaquePointer { self == .vp8 ? vpx_codec_vp8_cx() : vpx_codec_vp9_cx() }
    var decoderInterface: OpaquePointer { self == .vp8 ? vpx_codec_vp8_dx() : vpx_codec_vp9_dx() }
}

/// One compressed frame out of the encoder.
public struct EncodedVideoFrame: Sendable {
    /// The VP8/VP9 frame bytes (what RTP packetisation splits).
    public var data: [UInt8]
    /// True for a keyframe (intra frame).
    public var isKeyframe: Bool
    /// Temporal layer of this frame (0 = base), from the encoder's layer pattern.
    public var temporalLayer: Int
    /// True when this frame references only the base layer, so a receiver may switch up here.
    public var isLayerSync: Bool
    /// Presentation index of the source frame.
    public var pts: Int64
}

func vpxMessage(_ ctx: UnsafeMutablePointer<vpx_codec_ctx_t>, _ err: vpx_codec_err_t) -> String {
    var text = String(cString: vpx_codec_err_to_string(err))
    if let detail = vpx_codec_error_detail(ctx) { text += ": " + String(cString: detail) }
    return text
}

/// A realtime VP8/VP9 encoder (libvpx) over I420 frames: CBR, no lag, forced keyframes on
/// request, VP8 temporal layers (1–3) in the pattern WebRTC uses.
public final class VPXEncoder {
    /// Encoder settings.
    public struct Settings: Sendable {
        /// Which codec.
        public var codec: VPXCodec = .vp8
        /// Picture width.
        public var width: Int
        /// Picture height.
        public var height: Int
        /// Target bitrate in kbit/s (all layers together).
        public var bitrateKbps: Int = 800
        /// Frames per second (sets the timebase).
        public var framesPerSecond: Int = 30
        /// VP8 temporal layers: 1, 2 or 3.
        public var temporalLayers: Int = 1
        /// libvpx speed setting (VP8: -16…16, VP9: -9…9); higher is faster.
        public var cpuUsed: Int = 8
        /// Longest distance between keyframes, in frames.
        public var keyframeInterval: Int = 3000
        /// Encoder threads.
        public var threads: Int = 1

        /// Settings for a `width`×`height` stream; the other fields have realtime defaults.
        public init(codec: VPXCodec = .vp8, width: Int, height: Int, bitrateKbps: Int = 800,
                    framesPerSecond: Int = 30, temporalLayers: Int = 1) {
            self.codec = codec
            self.width = width
            self.height = height
            self.bitrateKbps = bitrateKbps
            self.framesPerSecond = framesPerSecond
            self.temporalLayers = temporalLayers
        }
    }

    /// The settings in force.
    public private(set) var settings: Settings
    private let ctx: UnsafeMutablePointer<vpx_codec_ctx_t>
    private var config = vpx_codec_enc_cfg_t()
    private var image = vpx_image_t()
    private var frameIndex: Int64 = 0
    private var forceNextKeyframe = false

    /// Creates and configures the encoder.
    public init(_ settings: Settings) throws(CodecError) {
        guard settings.width > 0, settings.height > 0, settings.width % 2 == 0, settings.height % 2 == 0 else {
            throw CodecError(.badSetting, "picture size must be positive and even, got \(settings.width)x\(settings.height)")
        }
        guard (1...3).contains(settings.temporalLayers), settings.codec == .vp8 || settings.temporalLayers == 1 else {
            throw CodecError(.badSetting, "temporal layers: 1–3 for VP8, 1 for VP9")
        }
        self.settings = settings
        ctx = .allocate(capacity: 1)
        ctx.initialize(to: vpx_codec_ctx_t())
        let iface = settings.codec.encoderInterface
        var err = vpx_codec_enc_config_default(iface, &config, 0)
        guard err == VPX_CODEC_OK else {
            ctx.deallocate()
            throw CodecError(.initFailed, code: Int32(err.rawValue), String(cString: vpx_codec_err_to_string(err)))
        }
        config.g_w = UInt32(settings.width)
        config.g_h = UInt32(settings.height)
        config.g_timebase = vpx_rational(num: 1, den: Int32(settings.framesPerSecond))
        config.rc_target_bitrate = UInt32(settings.bitrateKbps)
        config.rc_end_usage = VPX_CBR
        config.g_lag_in_frames = 0
        config.g_error_resilient = vpx_codec_er_flags_t(VPX_ERROR_RESILIENT_DEFAULT)
        config.g_threads = UInt32(settings.threads)
        config.kf_mode = VPX_KF_AUTO
        config.kf_max_dist = UInt32(settings.keyframeInterval)
        config.rc_min_quantizer = 2
        config.rc_max_quantizer = 56
        config.rc_undershoot_pct = 100
        config.rc_overshoot_pct = 15
        config.rc_buf_initial_sz = 500
        config.rc_buf_optimal_sz = 600
        config.rc_buf_sz = 1000
        Self.applyLayers(&config, layers: settings.temporalLayers, bitrate: settings.bitrateKbps)
        err = giaoban_vpx_enc_init(ctx, iface, &config, 0)
        guard err == VPX_CODEC_OK else {
            let message = vpxMessage(ctx, err)
            ctx.deallocate()
            throw CodecError(.initFailed, code: Int32(err.rawValue), message)
        }
        let speed = settings.codec == .vp8 ? max(-16, min(16, settings.cpuUsed)) : max(-9, min(9, settings.cpuUsed))
        _ = giaoban_vpx_set_cpu_used(ctx, Int32(speed))
        if settings.codec == .vp8 {
            _ = giaoban_vpx_set_static_threshold(ctx, 1)
            _ = giaoban_vp8_set_token_partitions(ctx, 0)
        } else {
            _ = giaoban_vp9_set_aq_mode(ctx, 3)
        }
    }

    deinit {
        vpx_codec_destroy(ctx)
        ctx.deallocate()
    }

    /// Layer targets as WebRTC splits them: 2 layers 60/40 %, 3 layers 40/20/40 % of the
    /// total bitrate (cumulative in the config), frame rates halving per layer down.
    private static func applyLayers(_ config: inout vpx_codec_enc_cfg_t, layers: Int, bitrate: Int) {
        guard layers > 1 else { return }
        config.ts_number_layers = UInt32(layers)
        let shares: [Double] = layers == 2 ? [0.6, 1.0] : [0.4, 0.6, 1.0]
        let decimators: [UInt32] = layers == 2 ? [2, 1] : [4, 2, 1]
        for layer in 0..<layers {
            giaoban_vpx_cfg_set_layer(&config, Int32(layer), UInt32(Double(bitrate) * shares[layer]), decimators[layer])
        }
        let pattern: [UInt32] = layers == 2 ? [0, 1] : [0, 2, 1, 2]
        config.ts_periodicity = UInt32(pattern.count)
        for (i, id) in pattern.enumerated() { giaoban_vpx_cfg_set_layer_id(&config, Int32(i), id) }
    }

    /// The temporal layer and reference flags for frame `index` of the layer pattern.
    private func layerFlags(for index: Int64) -> (layer: Int, flags: vpx_enc_frame_flags_t, sync: Bool) {
        let noRefGF = vpx_enc_frame_flags_t(VP8_EFLAG_NO_REF_GF), noRefARF = vpx_enc_frame_flags_t(VP8_EFLAG_NO_REF_ARF)
        let noUpdLast = vpx_enc_frame_flags_t(VP8_EFLAG_NO_UPD_LAST), noUpdGF = vpx_enc_frame_flags_t(VP8_EFLAG_NO_UPD_GF)
        let noUpdARF = vpx_enc_frame_flags_t(VP8_EFLAG_NO_UPD_ARF), noUpdEntropy = vpx_enc_frame_flags_t(VP8_EFLAG_NO_UPD_ENTROPY)
        switch settings.temporalLayers {
        case 2:
            if index % 2 == 0 { return (0, noRefGF | noRefARF | noUpdGF | noUpdARF, false) }
            return (1, noRefGF | noRefARF | noUpdLast | noUpdGF | noUpdARF | noUpdEntropy, true)
        case 3:
            switch index % 4 {
            case 0: return (0, noRefGF | noRefARF | noUpdGF | noUpdARF, false)
            case 2: return (1, noRefGF | noRefARF | noUpdLast | noUpdARF | noUpdEntropy, true)
            default: return (2, noRefARF | noUpdLast | noUpdGF | noUpdARF | noUpdEntropy, index % 4 == 1)
            }
        default:
            return (0, 0, false)
        }
    }

    /// Asks for the next encoded frame to be a keyframe (e.g. after a PLI or FIR).
    public func requestKeyframe() { forceNextKeyframe = true }

    /// Changes the target bitrate (kbit/s) without restarting the encoder.
    public func setBitrate(kbps: Int) throws(CodecError) {
        settings.bitrateKbps = kbps
        config.rc_target_bitrate = UInt32(kbps)
        Self.applyLayers(&config, layers: settings.temporalLayers, bitrate: kbps)
        let err = vpx_codec_enc_config_set(ctx, &config)
        guard err == VPX_CODEC_OK else { throw CodecError(.badSetting, code: Int32(err.rawValue), vpxMessage(ctx, err)) }
    }

    /// Encodes one picture (same size as the settings) and returns the compressed frames
    /// (normally one; none when the rate controller drops the frame).
    public func encode(_ frame: I420Frame, forceKeyframe: Bool = false) throws(CodecError) -> [EncodedVideoFrame] {
        guard frame.width == settings.width, frame.height == settings.height else {
            throw CodecError(.badInput, "frame is \(frame.width)x\(frame.height), encoder is \(settings.width)x\(settings.height)")
        }
        let index = frameIndex
        frameIndex += 1
        var (layer, flags, sync) = layerFlags(for: index)
        if forceKeyframe || forceNextKeyframe {
            flags = vpx_enc_frame_flags_t(VPX_EFLAG_FORCE_KF)
            forceNextKeyframe = false
        }
        if settings.temporalLayers > 1 { _ = giaoban_vpx_set_temporal_layer_id(ctx, Int32(layer)) }
        var frame = frame
        let err: vpx_codec_err_t = frame.data.withUnsafeMutableBufferPointer { p in
            guard vpx_img_wrap(&image, VPX_IMG_FMT_I420, UInt32(settings.width), UInt32(settings.height), 1, p.baseAddress) != nil else {
                return VPX_CODEC_INVALID_PARAM
            }
            return vpx_codec_encode(ctx, &image, index, 1, flags, UInt(VPX_DL_REALTIME))
        }
        guard err == VPX_CODEC_OK else { throw CodecError(.encodeFailed, code: Int32(err.rawValue), vpxMessage(ctx, err)) }
        var out: [EncodedVideoFrame] = []
        var iter: vpx_codec_iter_t? = nil
        while let pkt = vpx_codec_get_cx_data(ctx, &iter) {
            guard pkt.pointee.kind == VPX_CODEC_CX_FRAME_PKT else { continue }
            let f = pkt.pointee.data.frame
            let bytes = UnsafeRawBufferPointer(start: f.buf, count: f.sz)
            let key = f.flags & vpx_codec_frame_flags_t(VPX_FRAME_IS_KEY) != 0
            if key { layer = 0; sync = false }
            out.append(EncodedVideoFrame(data: Array(bytes), isKeyframe: key, temporalLayer: layer,
                                         isLayerSync: sync, pts: f.pts))
        }
        return out
    }
}

/// A VP8/VP9 decoder (libvpx) producing I420 pictures.
public final class VPXDecoder {
    /// Which codec this decoder reads.
    public let codec: VPXCodec
    private let ctx: UnsafeMutablePointer<vpx_codec_ctx_t>

    /// Creates a decoder for `codec`.
    public init(codec: VPXCodec, threads: Int = 1) throws(CodecError) {
        self.codec = codec
        ctx = .allocate(capacity: 1)
        ctx.initialize(to: vpx_codec_ctx_t())
        var cfg = vpx_codec_dec_cfg_t(threads: UInt32(threads), w: 0, h: 0)
        let err = giaoban_vpx_dec_init(ctx, codec.decoderInterface, &cfg, 0)
        guard err == VPX_CODEC_OK else {
            let message = String(cString: vpx_codec_err_to_string(err))
            ctx.deallocate()
            throw CodecError(.initFailed, code: Int32(err.rawValue), message)
        }
    }

    deinit {
        vpx_codec_destroy(ctx)
        ctx.deallocate()
    }

    /// Decodes one compressed frame; returns the picture, or nil when the frame shows nothing
    /// (e.g. a hidden frame). Corrupt input throws `.decodeFailed`.
    public func decode(_ data: [UInt8]) throws(CodecError) -> I420Frame? {
        let err = data.withUnsafeBufferPointer { p in
            vpx_codec_decode(ctx, p.baseAddress, UInt32(p.count), nil, 0)
        }
        guard err == VPX_CODEC_OK else { throw CodecError(.decodeFailed, code: Int32(err.rawValue), vpxMessage(ctx, err)) }
        var iter: vpx_codec_iter_t? = nil
        var result: I420Frame? = nil
        while let img = vpx_codec_get_frame(ctx, &iter) { result = Self.copy(img) }
        return result
    }

    private static func copy(_ img: UnsafeMutablePointer<vpx_image_t>) -> I420Frame {
        let w = Int(img.pointee.d_w), h = Int(img.pointee.d_h)
        var frame = I420Frame(width: w, height: h)
        let cw = frame.chromaWidth, ch = frame.chromaHeight
        frame.data.withUnsafeMutableBufferPointer { out in
            var offset = 0
            for (plane, pw, ph) in [(0, w, h), (1, cw, ch), (2, cw, ch)] {
                guard let src = giaoban_vpx_plane(img, Int32(plane)) else { continue }
                let stride = Int(giaoban_vpx_stride(img, Int32(plane)))
                for row in 0..<ph {
                    (out.baseAddress! + offset + row * pw).update(from: src + row * stride, count: pw)
                }
                offset += pw * ph
            }
        }
        return frame
    }
}

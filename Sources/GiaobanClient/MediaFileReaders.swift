import Glibc
public import GiaobanCodecs
import GiaobanWire

/// Reads a whole file; errors name the path and the system's reason.
func readFile(_ path: String) throws(ClientError) -> [UInt8] {
    guard let file = fopen(path, "rb") else {
        throw ClientError(.file, "cannot open \(path): \(String(cString: strerror(errno)))")
    }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        if n == 0 { break }
        bytes += chunk[0..<n]
    }
    guard ferror(file) == 0 else { throw ClientError(.file, "cannot read \(path)") }
    return bytes
}

/// Raw I420 video from a YUV4MPEG2 file (the `.y4m` of FFmpeg and the test-media sets), read
/// frame by frame (never the whole file) and looped at the end.
public final class Y4MReader {
    /// The file's path.
    public let path: String
    /// Picture width.
    public let width: Int
    /// Picture height.
    public let height: Int
    /// Frames per second from the `F` parameter (rounded; 30 when absent).
    public let framesPerSecond: Int
    private let file: UnsafeMutablePointer<FILE>
    private let dataStart: Int
    private var frame: [UInt8]

    /// Opens `path` and reads its header; only 4:2:0 chroma (`C420*` or no `C`) is accepted.
    public init(path: String) throws(ClientError) {
        self.path = path
        guard let file = fopen(path, "rb") else {
            throw ClientError(.file, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        self.file = file
        var header: [UInt8] = []
        while header.count < 1024 {
            let c = fgetc(file)
            if c < 0 || c == 0x0A { break }
            header.append(UInt8(c))
        }
        let fields = String(decoding: header, as: UTF8.self).split(separator: " ")
        var width = 0, height = 0, fps = 30
        guard fields.first == "YUV4MPEG2" else {
            fclose(file)
            throw ClientError(.file, "\(path) is not a Y4M file (no YUV4MPEG2 header)")
        }
        for field in fields.dropFirst() {
            let value = field.dropFirst()
            switch field.first {
            case "W": width = Int(value) ?? 0
            case "H": height = Int(value) ?? 0
            case "F":
                let parts = value.split(separator: ":").compactMap { Double($0) }
                if parts.count == 2, parts[1] > 0 { fps = max(1, Int((parts[0] / parts[1]).rounded())) }
            case "C" where !value.hasPrefix("420"):
                fclose(file)
                throw ClientError(.file, "\(path) has chroma \(value); only 4:2:0 (I420) is supported (convert with `ffmpeg -i \(path) -pix_fmt yuv420p out.y4m`)")
            default: break
            }
        }
        guard width > 0, height > 0, width % 2 == 0, height % 2 == 0 else {
            fclose(file)
            throw ClientError(.file, "\(path) has no usable size (W\(width) H\(height); even sizes needed)")
        }
        self.width = width
        self.height = height
        framesPerSecond = min(fps, 60)
        dataStart = ftell(file)
        frame = [UInt8](repeating: 0, count: I420Frame.byteCount(width: width, height: height))
    }

    deinit { fclose(file) }

    /// The next picture; after the last one, the first again.
    public func nextFrame() throws(ClientError) -> I420Frame {
        for attempt in 0..<2 {
            // Each frame: "FRAME", optional parameters, a newline, then the planes.
            var tag: [UInt8] = []
            while tag.count < 256 {
                let c = fgetc(file)
                if c < 0 || c == 0x0A { break }
                tag.append(UInt8(c))
            }
            if tag.starts(with: Array("FRAME".utf8)) {
                let n = frame.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
                if n == frame.count, let picture = I420Frame(width: width, height: height, data: frame) { return picture }
            }
            guard attempt == 0 else { break }
            fseek(file, dataStart, SEEK_SET)  // the end (or a truncated last frame): loop
        }
        throw ClientError(.file, "\(path) has no complete frame of \(width)x\(height)")
    }
}

/// Pre-encoded VP8 frames from an IVF file, looped: the load generator's input (no encoder).
public struct IVFReader: Sendable {
    /// Picture width from the header.
    public let width: Int
    /// Picture height from the header.
    public let height: Int
    /// The frames, in file order.
    public let frames: [[UInt8]]
    private var index = 0

    /// Reads `path`; only VP8 (`VP80`) is accepted, and the first frame must be a keyframe.
    public init(path: String) throws(ClientError) {
        let bytes = try readFile(path)
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        guard bytes.count >= 32, bytes.starts(with: Array("DKIF".utf8)) else {
            throw ClientError(.file, "\(path) is not an IVF file (no DKIF header)")
        }
        guard Array(bytes[8..<12]) == Array("VP80".utf8) else {
            throw ClientError(.file, "\(path) holds \(String(decoding: bytes[8..<12], as: UTF8.self)), not VP8; only VP8 IVF can be sent")
        }
        width = u16(12)
        height = u16(14)
        var frames: [[UInt8]] = []
        var offset = max(32, u16(6))
        while offset + 12 <= bytes.count {
            let size = u32(offset)
            guard size > 0, offset + 12 + size <= bytes.count else { break }
            frames.append(Array(bytes[(offset + 12)..<(offset + 12 + size)]))
            offset += 12 + size
        }
        guard let first = frames.first else { throw ClientError(.file, "\(path) holds no frame") }
        guard first[0] & 0x01 == 0 else { throw ClientError(.file, "\(path) does not start with a keyframe") }
        self.frames = frames
    }

    /// The next frame and whether it is a keyframe (RFC 6386 §9.1: P bit clear); loops.
    public mutating func next() -> (data: [UInt8], isKeyframe: Bool) {
        let frame = frames[index]
        index = (index + 1) % frames.count
        return (frame, frame[0] & 0x01 == 0)
    }
}

/// 16-bit PCM at 48 kHz, mono or stereo, from a WAV file, served 20 ms at a time, looped.
public struct WAVReader: Sendable {
    /// Interleaved channels (1 or 2).
    public let channels: Int
    /// All samples, interleaved.
    public let samples: [Int16]
    private var position = 0

    /// Reads `path`; anything but 16-bit PCM at 48 kHz with one or two channels is refused.
    public init(path: String) throws(ClientError) {
        let bytes = try readFile(path)
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        guard bytes.count >= 12, bytes.starts(with: Array("RIFF".utf8)), Array(bytes[8..<12]) == Array("WAVE".utf8) else {
            throw ClientError(.file, "\(path) is not a WAV file (no RIFF/WAVE header)")
        }
        var format: (tag: Int, channels: Int, rate: Int, bits: Int)?
        var data: Range<Int>?
        var offset = 12
        while offset + 8 <= bytes.count {
            let id = String(decoding: bytes[offset..<offset + 4], as: UTF8.self)
            let size = u32(offset + 4)
            let body = offset + 8
            if id == "fmt ", size >= 16, body + 16 <= bytes.count {
                format = (u16(body), u16(body + 2), u32(body + 4), u16(body + 14))
            } else if id == "data" {
                data = body..<min(bytes.count, body + size)
            }
            offset = body + size + (size & 1)
        }
        guard let format, let data else { throw ClientError(.file, "\(path) lacks a fmt or data chunk") }
        guard format.tag == 1 || format.tag == 0xFFFE, format.bits == 16 else {
            throw ClientError(.file, "\(path) is not 16-bit PCM (format \(format.tag), \(format.bits) bits); convert with `ffmpeg -i \(path) -c:a pcm_s16le -ar 48000 out.wav`")
        }
        guard format.rate == 48_000 else {
            throw ClientError(.file, "\(path) is \(format.rate) Hz; only 48 kHz is supported (resample with `ffmpeg -i \(path) -ar 48000 out.wav`)")
        }
        guard format.channels == 1 || format.channels == 2 else {
            throw ClientError(.file, "\(path) has \(format.channels) channels; only mono or stereo is supported")
        }
        channels = format.channels
        samples = stride(from: data.lowerBound, to: data.upperBound - 1, by: 2).map { Int16(bitPattern: UInt16(u16($0))) }
        guard samples.count >= OpusFormat.samplesPerFrame * channels else { throw ClientError(.file, "\(path) is shorter than 20 ms") }
    }

    /// The next 20 ms (960 samples per channel, interleaved); loops at the end.
    public mutating func nextFrame() -> [Int16] {
        let count = OpusFormat.samplesPerFrame * channels
        var out: [Int16] = []
        out.reserveCapacity(count)
        while out.count < count {
            let take = min(count - out.count, samples.count - position)
            out += samples[position..<position + take]
            position = (position + take) % samples.count
        }
        return out
    }
}

/// Opus packets from an Ogg Opus file (RFC 7845), sent as they are, looped.
public struct OggOpusReader: Sendable {
    /// Channels from OpusHead.
    public let channels: Int
    /// The audio packets with their durations in 48 kHz samples.
    public let packets: [(data: [UInt8], samples: Int)]
    private var index = 0

    /// Reads `path`; the first stream must be Opus (OpusHead, OpusTags, then audio).
    public init(path: String) throws(ClientError) {
        let bytes = try readFile(path)
        let ogg: OggPacketReader
        do { ogg = try OggPacketReader(bytes) } catch { throw ClientError(.file, "\(path): \(error.message)") }
        guard ogg.packets.count > 2, ogg.packets[0].data.starts(with: Array("OpusHead".utf8)), ogg.packets[0].data.count >= 19 else {
            throw ClientError(.file, "\(path) is not Ogg Opus (no OpusHead, or no audio)")
        }
        channels = Int(ogg.packets[0].data[9])
        packets = ogg.packets.dropFirst(2).compactMap { packet in
            packet.data.withUnsafeBytes { raw in (try? OpusTOC(raw)).map { (packet.data, $0.durationSamples) } }
        }
        guard !packets.isEmpty else { throw ClientError(.file, "\(path) holds no valid Opus packet") }
    }

    /// The next packet and its duration in samples; loops.
    public mutating func next() -> (data: [UInt8], samples: Int) {
        let packet = packets[index]
        index = (index + 1) % packets.count
        return packet
    }
}

import Glibc
public import GiaobanCodecs

/// Where a recording's bytes go: appended as they are produced, with the header patched
/// in place at the end (sizes and counts known only then).
public protocol RecordingOutput: AnyObject {
    /// Appends `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) throws(ClientError)
    /// Overwrites bytes already written, starting at `offset`.
    func patch(_ bytes: [UInt8], at offset: Int) throws(ClientError)
}

extension RecordingOutput {
    /// Appends the bytes of an array.
    public func write(_ bytes: [UInt8]) throws(ClientError) {
        var failure: ClientError?
        bytes.withUnsafeBytes { b in
            do throws(ClientError) { try write(b) } catch { failure = error }
        }
        if let failure { throw failure }
    }
}

/// A recording kept in memory (tests, analysis).
public final class MemoryOutput: RecordingOutput {
    /// Everything written so far.
    public private(set) var bytes: [UInt8] = []

    /// An empty output.
    public init() {}

    public func write(_ bytes: UnsafeRawBufferPointer) throws(ClientError) { self.bytes += bytes }

    public func patch(_ bytes: [UInt8], at offset: Int) throws(ClientError) {
        self.bytes.replaceSubrange(offset..<offset + bytes.count, with: bytes)
    }
}

/// A recording streamed to a file: every write goes to the kernel at once, so a crash
/// loses at most the header fields patched at the end.
public final class FileOutput: RecordingOutput {
    /// The file's path.
    public let path: String
    private var fd: Int32

    /// Creates (or truncates) the file at `path`, mode 0644.
    public init(path: String) throws(ClientError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ClientError(.file, "cannot create \(path): \(String(cString: strerror(errno)))") }
    }

    deinit { close() }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(ClientError) {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            guard n > 0 else { throw ClientError(.file, "cannot write \(path): \(String(cString: strerror(errno)))") }
            done += n
        }
    }

    public func patch(_ bytes: [UInt8], at offset: Int) throws(ClientError) {
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        guard n == bytes.count else { throw ClientError(.file, "cannot update \(path): \(String(cString: strerror(errno)))") }
    }

    /// Closes the file; later writes fail.
    public func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }
}

/// An IVF file (the container of libvpx's tools), written frame by frame: a 32-byte file
/// header, then per frame a 12-byte header (size, 64-bit timestamp, little-endian) and the
/// frame. Timestamps are in the RTP clock (time base 1/90000). `finish` patches the count.
public final class IVFWriter {
    /// Where the file goes.
    public let output: any RecordingOutput
    /// Frames written.
    public private(set) var frameCount: UInt32 = 0
    private var frameHeader = [UInt8](repeating: 0, count: 12)

    /// Starts a file for pictures of the given size (`VP80` for VP8, `VP90` for VP9).
    public init(output: any RecordingOutput, width: Int, height: Int, fourCC: String = "VP80") throws(ClientError) {
        self.output = output
        var header = Array("DKIF".utf8)
        Self.append16(&header, 0)  // version
        Self.append16(&header, 32)  // header size
        header += Array(fourCC.utf8.prefix(4))
        Self.append16(&header, UInt16(truncatingIfNeeded: width))
        Self.append16(&header, UInt16(truncatingIfNeeded: height))
        Self.append32(&header, 90_000)  // time base denominator
        Self.append32(&header, 1)  // time base numerator
        Self.append32(&header, 0)  // frame count, patched by `finish`
        Self.append32(&header, 0)  // unused
        try output.write(header)
    }

    /// Appends one frame with its timestamp in 1/90000 s.
    public func append(_ frame: [UInt8], timestamp: UInt64) throws(ClientError) {
        for i in 0..<4 { frameHeader[i] = UInt8(truncatingIfNeeded: frame.count >> (8 * i)) }
        for i in 0..<8 { frameHeader[4 + i] = UInt8(truncatingIfNeeded: timestamp >> (8 * UInt64(i))) }
        try output.write(frameHeader)
        try output.write(frame)
        frameCount += 1
    }

    /// Writes the frame count into the header.
    public func finish() throws(ClientError) {
        var count: [UInt8] = []
        Self.append32(&count, frameCount)
        try output.patch(count, at: 24)
    }

    static func append16(_ out: inout [UInt8], _ v: UInt16) {
        out.append(UInt8(v & 0xFF))
        out.append(UInt8(v >> 8))
    }

    static func append32(_ out: inout [UInt8], _ v: UInt32) {
        for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
    }
}

/// A WAV file (RIFF, 16-bit PCM, 48 kHz), written as samples come: the header's sizes are
/// patched by `finish`.
public final class WAVWriter {
    /// Where the file goes.
    public let output: any RecordingOutput
    /// Interleaved channels (1 or 2).
    public let channels: Int
    /// Samples written, all channels counted.
    public private(set) var sampleCount = 0
    private var scratch: [UInt8] = []

    /// Starts a file of `channels` channels at `sampleRate`.
    public init(output: any RecordingOutput, channels: Int = 1, sampleRate: UInt32 = 48_000) throws(ClientError) {
        self.output = output
        self.channels = channels
        let header = Self.header(dataSize: 0, channels: channels, sampleRate: sampleRate)
        try output.write(header)
    }

    /// Appends interleaved samples (little-endian on disk).
    public func append(_ samples: UnsafeBufferPointer<Int16>) throws(ClientError) {
        scratch.removeAll(keepingCapacity: true)
        for s in samples { IVFWriter.append16(&scratch, UInt16(bitPattern: s)) }
        sampleCount += samples.count
        try output.write(scratch)
    }

    /// Writes the RIFF and data sizes into the header.
    public func finish() throws(ClientError) {
        var riff: [UInt8] = [], data: [UInt8] = []
        IVFWriter.append32(&riff, UInt32(clamping: 36 + sampleCount * 2))
        IVFWriter.append32(&data, UInt32(clamping: sampleCount * 2))
        try output.patch(riff, at: 4)
        try output.patch(data, at: 40)
    }

    /// The 44-byte header of a PCM WAV file with `dataSize` bytes of samples.
    static func header(dataSize: UInt32, channels: Int, sampleRate: UInt32) -> [UInt8] {
        var out: [UInt8] = Array("RIFF".utf8)
        IVFWriter.append32(&out, 36 &+ dataSize)
        out += Array("WAVEfmt ".utf8)
        IVFWriter.append32(&out, 16)  // fmt chunk size
        IVFWriter.append16(&out, 1)  // PCM
        IVFWriter.append16(&out, UInt16(channels))
        IVFWriter.append32(&out, sampleRate)
        IVFWriter.append32(&out, sampleRate * UInt32(channels) * 2)  // byte rate
        IVFWriter.append16(&out, UInt16(channels * 2))  // block align
        IVFWriter.append16(&out, 16)  // bits per sample
        out += Array("data".utf8)
        IVFWriter.append32(&out, dataSize)
        return out
    }
}

/// Received Opus packets kept as they came, in an Ogg Opus file (RFC 7845), streamed page
/// by page (about one page a second). Lost packets are written as zero-length frames, which
/// a decoder conceals, so the timeline stays whole.
public final class OggOpusRecorder {
    /// Where the file goes.
    public let output: any RecordingOutput
    private var writer: OggOpusWriter?
    private var failure: ClientError?
    private var lostPacket: [UInt8] = [0]

    /// Starts a mono or stereo Ogg Opus file.
    public init(output: any RecordingOutput, channels: Int = 1) throws(ClientError) {
        self.output = output
        var headerFailure: ClientError?
        writer = OggOpusWriter(channels: channels) { page in
            do throws(ClientError) { try output.write(page) } catch { headerFailure = error }
        }
        if let headerFailure { throw headerFailure }
    }

    /// Appends one received packet of `samples` samples (960 for 20 ms).
    public func append(_ packet: UnsafeRawBufferPointer, samples: Int) throws(ClientError) {
        if let toc = packet.first { lostPacket[0] = toc & 0xFC }  // same configuration, code 0
        writer?.append(packet, samples: samples) { page in write(page) }
        if let failure { throw failure }
    }

    /// Appends a lost packet of `samples` samples: a zero-length frame (RFC 6716 §3.2.1).
    public func appendLost(samples: Int) throws(ClientError) {
        lostPacket.withUnsafeBytes { packet in writer?.append(packet, samples: samples) { page in write(page) } }
        if let failure { throw failure }
    }

    /// Writes the last page (end of stream).
    public func finish() throws(ClientError) {
        writer?.finish { page in write(page) }
        writer = nil
        if let failure { throw failure }
    }

    private func write(_ page: UnsafeRawBufferPointer) {
        guard failure == nil else { return }
        do throws(ClientError) { try output.write(page) } catch { failure = error }
    }
}

/// Cuts an encoded video frame into RTP payloads, each a payload descriptor followed by a
/// piece of the frame: as few pieces as fit `maxPayloadSize`, of nearly equal size so the
/// last packet is not a runt. Shared by the VP8 and VP9 packetizers.
enum FramePayloads {
    /// Payloads for `frame`; `header(index, count, out)` writes payload `index`'s descriptor
    /// (at most `maxHeaderSize` bytes) into `out` and returns its length.
    static func split(_ frame: [UInt8], maxPayloadSize: Int, maxHeaderSize: Int,
                      header: (_ index: Int, _ count: Int, _ out: UnsafeMutableRawBufferPointer) -> Int) -> [[UInt8]] {
        guard !frame.isEmpty else { return [] }
        let chunk = maxPayloadSize - maxHeaderSize
        let count = (frame.count + chunk - 1) / chunk
        let base = frame.count / count, extra = frame.count % count
        var payloads: [[UInt8]] = []
        payloads.reserveCapacity(count)
        var head = [UInt8](repeating: 0, count: maxHeaderSize)
        var offset = 0
        for i in 0..<count {
            let size = base + (i < extra ? 1 : 0)
            let n = head.withUnsafeMutableBytes { header(i, count, $0) }
            var payload = [UInt8]()
            payload.reserveCapacity(n + size)
            payload += head[0..<n]
            payload += frame[offset..<offset + size]
            payloads.append(payload)
            offset += size
        }
        return payloads
    }
}


extension SRTPContext {
    /// Encrypts and authenticates the RTP packet in `buffer[0..<length]` in place and returns
    /// the new length; `buffer` must have `profile.rtpOverhead` spare bytes after `length`.
    /// The header (with CSRCs and extensions) stays clear (RFC 3711 §3.1, RFC 7714 §8.2).
    @inline(__always)
    public func protectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        let tagLength = profile.rtpOverhead
        guard length + tagLength <= buffer.count, length >= 12, let raw = buffer.baseAddress else {
            throw SRTPError(.noRoom)
        }
        let p = raw.assumingMemoryBound(to: UInt8.self)
        guard let header = Self.rtpHeaderLength(p, length) else { throw SRTPError(.malformed) }
        let ssrc = p.srtpLoad32(8), seq = p.srtpLoad16(2)
        let slot = streams.slotAdding(ssrc)
        let (index, delta) = SRTPIndex.estimate(highest: streams.states[slot].rtpIndex, seq: seq)
        // Retransmissions resend an index already used with the same payload: no replay check outbound.
        streams.rtpWindow(slot).add(highest: &streams.states[slot].rtpIndex, delta: delta)
        let roc = UInt32(truncatingIfNeeded: index >> 16)
        if rtp.isGCM {
            writeRTPNonce(ssrc: ssrc, roc: roc, seq: seq)
            guard rtp.seal(iv: scratch, aad: p, aadCount: header, aad2: nil, aad2Count: 0,
                           p + header, count: length - header, tag: p + length) else { throw SRTPError(.failed) }
        } else {
            writeRTPCounter(ssrc: ssrc, roc: roc, seq: seq)
            guard rtp.applyKeystream(iv: scratch, p + header, count: length - header) else { throw SRTPError(.failed) }
            // RFC 3711 §4.2: the tag covers the packet followed by the ROC.
            scratch.srtpStore32(roc, 16)
            rtp.authenticate(p, count: length, scratch + 16, count: 4)
            (p + length).update(from: rtp.digest, count: tagLength)
        }
        return length + tagLength
    }

    /// Verifies and decrypts the SRTP packet in `buffer[0..<length]` in place; returns the
    /// plain RTP length. A replayed or too old index is refused before any crypto.
    @inline(__always)
    public func unprotectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        let tagLength = profile.rtpOverhead
        guard length <= buffer.count, length >= 12 + tagLength, let raw = buffer.baseAddress else {
            throw SRTPError(.malformed)
        }
        let p = raw.assumingMemoryBound(to: UInt8.self)
        let end = length - tagLength
        guard let header = Self.rtpHeaderLength(p, end) else { throw SRTPError(.malformed) }
        let ssrc = p.srtpLoad32(8), seq = p.srtpLoad16(2)
        let known = streams.slot(of: ssrc)
        let highest = known.map { streams.states[$0].rtpIndex } ?? 0
        let (index, delta) = SRTPIndex.estimate(highest: highest, seq: seq)
        if let known, let reason = streams.rtpWindow(known).check(highest: highest, delta: delta) {
            throw SRTPError(reason)
        }
        let roc = UInt32(truncatingIfNeeded: index >> 16)
        if rtp.isGCM {
            writeRTPNonce(ssrc: ssrc, roc: roc, seq: seq)
            guard rtp.open(iv: scratch, aad: p, aadCount: header, aad2: nil, aad2Count: 0,
                           p + header, count: end - header, tag: p + end) else {
                throw SRTPError(.authenticationFailed)
            }
        } else {
            scratch.srtpStore32(roc, 16)
            rtp.authenticate(p, count: end, scratch + 16, count: 4)
            guard rtp.digestMatches(p + end, count: tagLength) else { throw SRTPError(.authenticationFailed) }
            writeRTPCounter(ssrc: ssrc, roc: roc, seq: seq)
            guard rtp.applyKeystream(iv: scratch, p + header, count: end - header) else { throw SRTPError(.failed) }
        }
        // Only an authentic packet creates state or moves the window.
        let slot = known ?? streams.slotAdding(ssrc)
        streams.rtpWindow(slot).add(highest: &streams.states[slot].rtpIndex, delta: delta)
        return end
    }

    /// The RTP header length with CSRCs and the extension (RFC 3550 §5.1, §5.3.1), or nil if
    /// the packet is not version 2 or shorter than its header says.
    @inline(__always)
    static func rtpHeaderLength(_ p: UnsafeMutablePointer<UInt8>, _ length: Int) -> Int? {
        guard length >= 12, p[0] >> 6 == 2 else { return nil }
        var header = 12 + Int(p[0] & 0x0f) * 4
        if p[0] & 0x10 != 0 {
            guard length >= header + 4 else { return nil }
            header += 4 + Int(p.srtpLoad16(header + 2)) * 4
        }
        return header <= length ? header : nil
    }

    /// RFC 7714 §8.1: IV = (0x0000 ‖ SSRC ‖ ROC ‖ SEQ) ⊕ salt, 12 bytes, into the scratch.
    @inline(__always)
    func writeRTPNonce(ssrc: UInt32, roc: UInt32, seq: UInt16) {
        scratch[0] = 0
        scratch[1] = 0
        scratch.srtpStore32(ssrc, 2)
        scratch.srtpStore32(roc, 6)
        scratch.srtpStore16(seq, 10)
        for i in 0..<12 { scratch[i] ^= rtp.salt[i] }
    }

    /// RFC 3711 §4.1.1: IV = (salt · 2^16) ⊕ (SSRC · 2^64) ⊕ (index · 2^16), 16 bytes.
    @inline(__always)
    func writeRTPCounter(ssrc: UInt32, roc: UInt32, seq: UInt16) {
        scratch.srtpStore32(0, 0)
        scratch.srtpStore32(ssrc, 4)
        scratch.srtpStore32(roc, 8)
        scratch.srtpStore16(seq, 12)
        scratch.srtpStore16(0, 14)
        for i in 0..<14 { scratch[i] ^= rtp.salt[i] }
    }
}


extension SRTPContext {
    /// Protects the RTCP compound packet in `buffer[0..<length]` in place (SRTCP, encrypted,
    /// E = 1); `buffer` needs `profile.rtcpOverhead` spare bytes. Each SSRC's SRTCP index
    /// starts at 1 (RFC 3711 §3.4). Layout: AES-CM `… ‖ E‖index ‖ tag(10)` (RFC 3711 §3.4),
    /// GCM `… ‖ tag(16) ‖ E‖index` (RFC 7714 §9).
    public func protectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        let overhead = profile.rtcpOverhead
        guard length + overhead <= buffer.count, length >= 8, let raw = buffer.baseAddress else {
            throw SRTPError(.noRoom)
        }
        let p = raw.assumingMemoryBound(to: UInt8.self)
        let ssrc = p.srtpLoad32(4)
        let slot = streams.slotAdding(ssrc)
        // 2^31 SRTCP packets exhaust the index: the keys must be renewed (RFC 3711 §9.2).
        guard streams.states[slot].rtcpIndex < 0x7fff_ffff else { throw SRTPError(.failed) }
        streams.states[slot].rtcpIndex += 1
        let index = UInt32(truncatingIfNeeded: streams.states[slot].rtcpIndex)
        let trailer = 0x8000_0000 | index
        if rtcp.isGCM {
            writeRTCPNonce(ssrc: ssrc, index: index)
            scratch.srtpStore32(trailer, 16)
            // RFC 7714 §9.1: AAD = the first 8 octets ‖ E‖SRTCP index.
            guard rtcp.seal(iv: scratch, aad: p, aadCount: 8, aad2: scratch + 16, aad2Count: 4,
                            p + 8, count: length - 8, tag: p + length) else { throw SRTPError(.failed) }
            (p + length + 16).srtpStore32(trailer, 0)
        } else {
            writeRTCPCounter(ssrc: ssrc, index: index)
            guard rtcp.applyKeystream(iv: scratch, p + 8, count: length - 8) else { throw SRTPError(.failed) }
            (p + length).srtpStore32(trailer, 0)
            rtcp.authenticate(p, count: length + 4, p, count: 0)
            (p + length + 4).update(from: rtcp.digest, count: 10)
        }
        return length + overhead
    }

    /// Verifies and decrypts the SRTCP packet in `buffer[0..<length]` in place; returns the
    /// plain RTCP length. Unencrypted SRTCP (E = 0) is authenticated only.
    public func unprotectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        let overhead = profile.rtcpOverhead
        guard length <= buffer.count, length >= 8 + overhead, let raw = buffer.baseAddress else {
            throw SRTPError(.malformed)
        }
        let p = raw.assumingMemoryBound(to: UInt8.self)
        let gcm = rtcp.isGCM
        let trailer = p.srtpLoad32(gcm ? length - 4 : length - 14)
        let encrypted = trailer & 0x8000_0000 != 0, index = trailer & 0x7fff_ffff
        let end = length - overhead  // the end of the RTCP packet, clear or encrypted
        let ssrc = p.srtpLoad32(4)
        let known = streams.slot(of: ssrc)
        let highest = known.map { streams.states[$0].rtcpIndex } ?? 0
        let delta = Int(index) - Int(highest)
        if let known, let reason = streams.rtcpWindow(known).check(highest: highest, delta: delta) {
            throw SRTPError(reason)
        }
        if gcm {
            writeRTCPNonce(ssrc: ssrc, index: index)
            scratch.srtpStore32(trailer, 16)
            // Unencrypted (RFC 7714 §9.2): the whole packet is additional data.
            let clear = encrypted ? 8 : end
            guard rtcp.open(iv: scratch, aad: p, aadCount: clear, aad2: scratch + 16, aad2Count: 4,
                            p + clear, count: end - clear, tag: p + end) else {
                throw SRTPError(.authenticationFailed)
            }
        } else {
            rtcp.authenticate(p, count: length - 10, p, count: 0)
            guard rtcp.digestMatches(p + length - 10, count: 10) else { throw SRTPError(.authenticationFailed) }
            if encrypted {
                writeRTCPCounter(ssrc: ssrc, index: index)
                guard rtcp.applyKeystream(iv: scratch, p + 8, count: end - 8) else { throw SRTPError(.failed) }
            }
        }
        let slot = known ?? streams.slotAdding(ssrc)
        streams.rtcpWindow(slot).add(highest: &streams.states[slot].rtcpIndex, delta: delta)
        return end
    }

    /// RFC 7714 §9.1: IV = (0x0000 ‖ SSRC ‖ 0x0000 ‖ 0 ‖ SRTCP index) ⊕ salt, 12 bytes.
    @inline(__always)
    func writeRTCPNonce(ssrc: UInt32, index: UInt32) {
        scratch[0] = 0
        scratch[1] = 0
        scratch.srtpStore32(ssrc, 2)
        scratch.srtpStore16(0, 6)
        scratch.srtpStore32(index, 8)
        for i in 0..<12 { scratch[i] ^= rtcp.salt[i] }
    }

    /// RFC 3711 §4.1.1 with the SRTCP index as i: 16 bytes.
    @inline(__always)
    func writeRTCPCounter(ssrc: UInt32, index: UInt32) {
        scratch.srtpStore32(0, 0)
        scratch.srtpStore32(ssrc, 4)
        scratch.srtpStore16(0, 8)
        scratch.srtpStore32(index, 10)
        scratch.srtpStore16(0, 14)
        for i in 0..<14 { scratch[i] ^= rtcp.salt[i] }
    }
}

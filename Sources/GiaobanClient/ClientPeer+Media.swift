public import GiaobanCrypto

extension ClientPeer {
    /// What one received datagram turned out to be.
    public enum Incoming: Sendable, Equatable {
        /// An SRTP packet, now plain RTP in the first `length` bytes of the buffer.
        case rtp(length: Int)
        /// An SRTCP packet, now a plain RTCP compound in the first `length` bytes.
        case rtcp(length: Int)
        /// STUN or DTLS, handled by the peer (answers, if any, are in the outbox).
        case control
        /// Dropped: see `drops`.
        case dropped
    }

    /// Why received datagrams were dropped.
    public enum DropReason: String, Sendable, CaseIterable {
        /// A STUN message that is not an authenticated response to our check.
        case stun
        /// A DTLS record before ICE succeeded or after the association ended.
        case dtls
        /// SRTP or SRTCP before the keys exist.
        case notConnected
        /// SRTP or SRTCP that did not authenticate, was replayed, or was too short.
        case srtp
        /// A first byte outside the ranges of RFC 7983 §7.
        case unknown
    }

    /// Counts of dropped datagrams per reason.
    public struct DropCounts: Sendable, Equatable {
        /// Count per reason, indexed like `DropReason.allCases`.
        public private(set) var counts = [Int](repeating: 0, count: DropReason.allCases.count)

        /// The count for `reason`.
        public subscript(_ reason: DropReason) -> Int { counts[DropReason.allCases.firstIndex(of: reason)!] }

        /// The sum over all reasons.
        public var total: Int { counts.reduce(0, +) }

        mutating func count(_ reason: DropReason) {
            counts[DropReason.allCases.firstIndex(of: reason)!] &+= 1
        }
    }

    /// Handles one datagram from the relay, demultiplexed by its first byte (RFC 7983 §7):
    /// STUN and DTLS go to ICE and the handshake; SRTP and SRTCP (RFC 5761 §4: second byte
    /// 192–223 is RTCP) are decrypted in place. Does not allocate for media.
    public func receive(_ datagram: UnsafeMutableRawBufferPointer, now: ContinuousClock.Instant) -> Incoming {
        guard let first = datagram.first else {
            drops.count(.unknown)
            return .dropped
        }
        switch first {
        case 0...3:
            receiveSTUN(UnsafeRawBufferPointer(datagram), now: now)
            return .control
        case 20...63:
            receiveDTLS(UnsafeRawBufferPointer(datagram), now: now)
            return .control
        case 128...191:
            guard let srtpIn else {
                drops.count(.notConnected)
                return .dropped
            }
            guard datagram.count >= 8 else {
                drops.count(.srtp)
                return .dropped
            }
            if (192...223).contains(datagram[1]) {
                guard let n = try? srtpIn.unprotectRTCP(datagram, length: datagram.count) else {
                    drops.count(.srtp)
                    return .dropped
                }
                return .rtcp(length: n)
            }
            guard let n = try? srtpIn.unprotectRTP(datagram, length: datagram.count) else {
                drops.count(.srtp)
                return .dropped
            }
            return .rtp(length: n)
        default:
            drops.count(.unknown)
            return .dropped
        }
    }

    /// Encrypts the RTP packet in `buffer[0..<length]` in place for the relay and returns the
    /// SRTP length; `buffer` needs `srtpOverhead` spare bytes after the packet.
    @inline(__always)
    public func protectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(ClientError) -> Int {
        guard let srtpOut else { throw ClientError(.notConnected, "no SRTP keys yet") }
        do { return try srtpOut.protectRTP(buffer, length: length) } catch {
            throw ClientError(.notConnected, "SRTP protect failed: \(error)")
        }
    }

    /// Encrypts the RTCP compound in `buffer[0..<length]` in place (SRTCP) and returns the
    /// new length; `buffer` needs `srtpOverhead + 4` spare bytes.
    public func protectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(ClientError) -> Int {
        guard let srtpOut else { throw ClientError(.notConnected, "no SRTP keys yet") }
        do { return try srtpOut.protectRTCP(buffer, length: length) } catch {
            throw ClientError(.notConnected, "SRTCP protect failed: \(error)")
        }
    }

    /// Bytes SRTP adds to each RTP packet with the negotiated profile (16 for AES-GCM);
    /// 16 before the keys exist, the most any profile adds.
    public var srtpOverhead: Int { keyingMaterial?.profile.rtpOverhead ?? 16 }

    /// The negotiated SRTP profile, once connected.
    public var srtpProfile: SRTPProfile? { keyingMaterial?.profile }
}

// fuzz-sources: Sources/GiaobanCrypto/SRTP
// fuzz-flags: -I Sources/COpenSSL -package-name giaoban
// SRTP and SRTCP on OpenSSL's EVP (SRTPContext), both profiles, fresh contexts per input.
// The first byte picks the profile and what the rest is:
// - an SRTP or SRTCP packet from the network: unprotect must refuse it (random bytes never
//   authenticate), never crash, and leave the context without state for its SSRC;
// - a plain RTP or RTCP packet: protect, then unprotect with the receiving context gives back
//   the same bytes; one flipped bit anywhere in the protected packet is refused.

let key: [UInt8] = (0..<16).map { UInt8($0 &* 7 &+ 1) }
let masterSalt: [UInt8] = (0..<14).map { UInt8($0 &* 11 &+ 3) }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let mode = data[0]
    let profile: SRTPProfile = mode & 1 == 0 ? .aeadAES128GCM : .aes128CMHMACSHA1_80
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let salt = Array(masterSalt.prefix(profile.saltLength))
    guard let sender = try? SRTPContext(profile: profile, direction: .outbound, key: key, salt: salt),
          let receiver = try? SRTPContext(profile: profile, direction: .inbound, key: key, salt: salt) else {
        fatalError("contexts from a valid key")
    }
    let rtcp = mode & 2 != 0
    var buffer = body + [UInt8](repeating: 0, count: 64)
    if mode & 4 == 0 {
        // From the network: nothing random may pass.
        let length = body.count
        let result = buffer.withUnsafeMutableBytes { b in
            rtcp ? try? receiver.unprotectRTCP(b, length: length) : try? receiver.unprotectRTP(b, length: length)
        }
        precondition(result == nil, "an unauthenticated \(rtcp ? "SRTCP" : "SRTP") packet was accepted")
        precondition(receiver.streamCount == 0, "a refused packet left state behind")
        return 0
    }
    // Plain packets: round trip, then tampering.
    let length = body.count
    guard let protected = buffer.withUnsafeMutableBytes({ b in
        rtcp ? try? sender.protectRTCP(b, length: length) : try? sender.protectRTP(b, length: length)
    }) else { return 0 }
    let sealed = Array(buffer.prefix(protected))
    var copy = sealed + [UInt8](repeating: 0, count: 16)
    let opened = copy.withUnsafeMutableBytes { b in
        rtcp ? try? receiver.unprotectRTCP(b, length: protected) : try? receiver.unprotectRTP(b, length: protected)
    }
    precondition(opened == length && Array(copy.prefix(length)) == body, "protect then unprotect changed the packet")
    let bit = Int(mode >> 3) % (sealed.count * 8)
    var tampered = sealed
    tampered[bit / 8] ^= UInt8(1 << (bit % 8))
    guard let fresh = try? SRTPContext(profile: profile, direction: .inbound, key: key, salt: salt) else { fatalError("context") }
    let sealedLength = sealed.count
    let forged = tampered.withUnsafeMutableBytes { b in
        rtcp ? try? fresh.unprotectRTCP(b, length: sealedLength) : try? fresh.unprotectRTP(b, length: sealedLength)
    }
    precondition(forged == nil, "a packet with bit \(bit) flipped was accepted")
    return 0
}

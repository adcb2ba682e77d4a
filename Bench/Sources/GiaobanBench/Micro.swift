import ArgumentParser
import GiaobanCrypto
import GiaobanEngine
import GiaobanRTP
import GiaobanSRTP
import GiaobanWire

#if canImport(Glibc)
import Glibc
#endif

/// `giaoban-bench micro`: the per-packet work of the forwarding path, one piece at a time.
struct Micro: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Micro-benchmarks of the hot path: RTP parse and egress header, VP8 descriptor, packet cache, SRTP.",
        discussion: "Build with -c release for meaningful numbers (scripts/bench.sh micro does)."
    )

    @Option(help: "Operations per round.")
    var iterations = 200_000

    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    func run() throws {
        var results: [MicroResult] = []
        // A 1200-byte VP8 packet as Chromium sends it: one-byte extensions (mid, transport-wide
        // sequence number, abs-send-time), a VP8 descriptor with a 15-bit picture ID and TL0PICIDX.
        var ext = RTPHeaderExtensionBuilder()
        ext.append(id: 4, data: [0x30])                 // mid "0"
        ext.append(id: 3, data: [0x12, 0x34])           // transport-wide sequence number
        ext.append(id: 2, data: [0x01, 0x02, 0x03])     // abs-send-time
        var payload: [UInt8] = [0x90, 0xE0, 0x81, 0x23, 0x45, 0x60]  // X S | I L T | M+PID | TL0PICIDX | TID
        payload += [UInt8](repeating: 0x5A, count: 1200 - 12 - ext.marshalSize - payload.count)
        let builder = RTPPacketBuilder(payloadType: 96, sequenceNumber: 1, timestamp: 90_000,
                                       ssrc: 0x1122_3344, extensions: ext, payload: payload)
        var packet = [UInt8](repeating: 0, count: builder.marshalSize + 64)
        let length = try packet.withUnsafeMutableBytes { try builder.marshal(into: $0) }
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 16)
        defer { scratch.deallocate() }

        packet.withUnsafeBytes { raw in
            let bytes = UnsafeRawBufferPointer(rebasing: raw[0..<length])
            results.append(measure("rtp parse", iterations: iterations) { _ in
                let view = try! RTPPacketView(bytes)
                blackHole(view.sequenceNumber)
            })
            // What forward() does per subscriber: map the numbers, then write the subscriber's
            // header (with its transport-wide sequence number) and the payload into the slot.
            var rewriter = SequenceRewriter(outputSSRC: 0xAABB_CCDD, initialSequence: 7)
            var input: UInt16 = 0  // always forward across rounds, as a real stream
            results.append(measure("rtp parse + egress header + payload copy (per subscriber)", iterations: iterations) { i in
                let view = try! RTPPacketView(bytes)
                input &+= 1
                guard let (sequence, timestamp) = rewriter.rewrite(sequence: input, timestamp: UInt32(input) &* 3000) else { return }
                var header = RTPEgressHeader(payloadType: 96, sequenceNumber: sequence, timestamp: timestamp,
                                             ssrc: rewriter.outputSSRC, marker: view.marker)
                header.appendElement(id: 3, length: 2)
                let length = header.write(payload: view.payload, into: scratch)
                scratch.setU16(UInt16(truncatingIfNeeded: i), at: header.elementDataOffset(0))
                blackHole(length)
            })
            results.append(measure("rtp extension lookup (transport-cc)", iterations: iterations) { _ in
                let view = try! RTPPacketView(bytes)
                for element in view.extensions where element.id == 3 { blackHole(element.data.u16(at: 0)) }
            })
            results.append(measure("vp8 descriptor parse + keyframe check", iterations: iterations) { _ in
                let view = try! RTPPacketView(bytes)
                let vp8 = try! VP8PayloadDescriptor(view.payload)
                blackHole(vp8.isKeyFrame)
                blackHole(vp8.pictureID ?? 0)
            })
            let cache = PacketCache(capacity: 512, slotSize: 1500)
            results.append(measure("packet cache store + copy", iterations: iterations) { i in
                let seq = UInt16(truncatingIfNeeded: i)
                cache.store(bytes, sequence: seq)
                blackHole(cache.copy(sequence: seq, into: scratch) ?? 0)
            })
        }
        for profile in SRTPProfile.allCases {
            let key = [UInt8](repeating: 1, count: profile.keyLength), salt = [UInt8](repeating: 2, count: profile.saltLength)
            let tx = try SRTPSession(profile: profile, direction: .outbound, key: key, salt: salt)
            packet.withUnsafeBytes { raw in
                let bytes = UnsafeRawBufferPointer(rebasing: raw[0..<length])
                var sequence: UInt16 = 0  // always forward across rounds, as a real stream
                results.append(measure("srtp protect 1200 B (\(profile.rawValue))", iterations: iterations / 4) { _ in
                    scratch.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
                    sequence &+= 1
                    scratch.setU16(sequence, at: 2)
                    blackHole(try! tx.protectRTP(scratch, length: bytes.count))
                })
            }
        }
        // The same work on OpenSSL's EVP (SRTPContext), without libsrtp2 and its NSS backend.
        for profile in SRTPProfile.allCases {
            let key = [UInt8](repeating: 1, count: profile.keyLength), salt = [UInt8](repeating: 2, count: profile.saltLength)
            let tx = try SRTPContext(profile: profile, direction: .outbound, key: key, salt: salt)
            packet.withUnsafeBytes { raw in
                let bytes = UnsafeRawBufferPointer(rebasing: raw[0..<length])
                var sequence: UInt16 = 0
                results.append(measure("srtp protect 1200 B (\(profile.rawValue), OpenSSL EVP)", iterations: iterations / 4) { _ in
                    scratch.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
                    sequence &+= 1
                    scratch.setU16(sequence, at: 2)
                    blackHole(try! tx.protectRTP(scratch, length: bytes.count))
                })
            }
        }
        printTable(results)
        if let json { try writeJSON(results, to: json) }
    }
}

/// Keeps a value alive so the optimiser cannot delete the work that produced it.
@inline(never) func blackHole<T>(_ value: T) { withExtendedLifetime(value) {} }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)

    /// Marshals `builder`, checking the size it reports, and hands the bytes to `check`.
    func remarshal<B: RTCPPacketBuilder>(_ builder: B, _ check: (UnsafeRawBufferPointer) throws(WireError) -> Void) {
        var out = [UInt8](repeating: 0xEE, count: builder.marshalSize)
        out.withUnsafeMutableBytes { raw in
            guard let written = try? builder.marshal(into: raw) else { return }
            guard written == builder.marshalSize else { fatalError("marshal wrote \(written), size \(builder.marshalSize)") }
            do { try check(UnsafeRawBufferPointer(raw)) } catch { fatalError("re-parse failed: \(error)") }
        }
    }

    func expectEqual<T: Equatable>(_ a: T, _ b: T, _ what: StaticString) {
        if a != b { fatalError("\(what): \(a) != \(b)") }
    }

    func fuzzPacket(_ packet: RTCPPacket) {
        let raw = packet.bytes
        _ = packet.payload.count
        if let sr = try? SenderReport(raw) {
            let builder = SenderReportBuilder(sr)
            _ = sr.profileExtensions.count
            remarshal(builder) { out throws(WireError) in expectEqual(SenderReportBuilder(try SenderReport(out)), builder, "SR") }
        }
        if let rr = try? ReceiverReport(raw) {
            let builder = ReceiverReportBuilder(rr)
            remarshal(builder) { out throws(WireError) in expectEqual(ReceiverReportBuilder(try ReceiverReport(out)), builder, "RR") }
        }
        if let sdes = try? SourceDescription(raw) {
            for chunk in sdes { _ = chunk.cname?.count }
            let builder = SourceDescriptionBuilder(sdes)
            remarshal(builder) { out throws(WireError) in
                expectEqual(SourceDescriptionBuilder(try SourceDescription(out)), builder, "SDES")
            }
        }
        if let bye = try? Goodbye(raw) {
            let builder = GoodbyeBuilder(bye)
            remarshal(builder) { out throws(WireError) in expectEqual(GoodbyeBuilder(try Goodbye(out)), builder, "BYE") }
        }
        if let app = try? ApplicationDefined(raw) {
            let builder = ApplicationDefinedBuilder(app)
            remarshal(builder) { out throws(WireError) in
                expectEqual(ApplicationDefinedBuilder(try ApplicationDefined(out)), builder, "APP")
            }
        }
        if let feedback = try? RTCPFeedback(raw) {
            _ = (feedback.format, feedback.senderSSRC, feedback.mediaSSRC, feedback.fci.count)
        }
        if let nack = try? GenericNACK(raw) {
            var lost = 0
            nack.forEachLost { _ in lost += 1 }
            var iterated = 0
            for item in nack { for _ in item { iterated += 1 } }
            expectEqual(lost, iterated, "NACK expansion")
            let builder = GenericNACKBuilder(nack)
            remarshal(builder) { out throws(WireError) in expectEqual(GenericNACKBuilder(try GenericNACK(out)), builder, "NACK") }
        }
        if let pli = try? PictureLossIndication(raw) {
            remarshal(pli) { out throws(WireError) in expectEqual(try PictureLossIndication(out), pli, "PLI") }
        }
        if let fir = try? FullIntraRequest(raw) {
            let builder = FullIntraRequestBuilder(fir)
            remarshal(builder) { out throws(WireError) in
                expectEqual(FullIntraRequestBuilder(try FullIntraRequest(out)).entries, builder.entries, "FIR")
            }
        }
        if let remb = try? ReceiverEstimatedMaxBitrate(raw) {
            let builder = ReceiverEstimatedMaxBitrateBuilder(remb)
            remarshal(builder) { out throws(WireError) in
                let again = try ReceiverEstimatedMaxBitrate(out)
                if again.bitrate > builder.bitrate { fatalError("REMB bitrate grew") }
                expectEqual(Array(again.ssrcs), builder.ssrcs, "REMB SSRCs")
            }
        }
        if let twcc = try? TransportWideFeedback(raw) {
            var results: [TransportWideFeedback.PacketResult] = []
            for result in twcc { results.append(result) }
            expectEqual(results.count, twcc.packetStatusCount, "TWCC count")
            let builder: TransportWideFeedbackBuilder
            do { builder = try TransportWideFeedbackBuilder(twcc) } catch { fatalError("TWCC rebuild: \(error)") }
            remarshal(builder) { out throws(WireError) in
                let again = try TransportWideFeedback(out)
                expectEqual(try TransportWideFeedbackBuilder(again), builder, "TWCC builder")
                let wrap: Int64 = (1 << 24) * TransportWideFeedback.referenceTimeUnitMicroseconds
                var index = 0
                for result in again {
                    let original = results[index]
                    expectEqual(result.sequenceNumber, original.sequenceNumber, "TWCC seq")
                    expectEqual(result.status == .notReceived, original.status == .notReceived, "TWCC received")
                    if let a = result.arrivalMicroseconds, let b = original.arrivalMicroseconds, (a - b) % wrap != 0 {
                        fatalError("TWCC arrival \(a) vs \(b)")
                    }
                    index += 1
                }
                expectEqual(index, results.count, "TWCC re-parse count")
            }
        }
    }

    let strict = try? RTCPCompound(bytes)
    if let lenient = try? RTCPCompound(bytes, allowsPaddingBeforeLast: true) {
        if let strict { expectEqual(strict.packetCount, lenient.packetCount, "compound count") }
        var count = 0
        for packet in lenient {
            count += 1
            fuzzPacket(packet)
        }
        expectEqual(count, lenient.packetCount, "compound iteration")
    } else if strict != nil {
        fatalError("strict compound accepted what the lenient one refused")
    }
    return 0
}

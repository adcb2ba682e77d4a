import GiaobanWire
import Testing
import GiaobanRTP

@Suite("Transport-wide feedback to publishers")
struct TransportFeedbackTests {
    /// Parses a feedback builder's bytes back into (sequence, received) pairs.
    func results(_ builder: TransportWideFeedbackBuilder) throws -> [(UInt16, Bool)] {
        var bytes = [UInt8](repeating: 0, count: builder.marshalSize)
        _ = try bytes.withUnsafeMutableBytes { try builder.marshal(into: $0) }
        return try bytes.withUnsafeBytes { raw in
            try TransportWideFeedback(raw).map { ($0.sequenceNumber, $0.status != .notReceived) }
        }
    }

    @Test("arrivals are reported in order, once, with losses, and the next window starts where the last ended")
    func recorder() throws {
        var r = TransportFeedbackRecorder()
        for (seq, t) in [(65_534, 1_000), (0, 3_000), (65_535, 2_000), (0, 3_100), (2, 5_000)] as [(UInt16, Int64)] {
            r.record(sequence: seq, arrival: t)
        }
        let first = r.makeFeedback(senderSSRC: 1, mediaSSRC: 2)
        let got = try results(try #require(first))
        #expect(got.map(\.0) == [65_534, 65_535, 0, 1, 2])
        #expect(got.map(\.1) == [true, true, true, false, true], "1 was lost; the duplicate 0 counted once")
        let empty = r.makeFeedback(senderSSRC: 1, mediaSSRC: 2)
        #expect(empty == nil, "nothing new")
        r.record(sequence: 5, arrival: 9_000)
        let next = r.makeFeedback(senderSSRC: 1, mediaSSRC: 2)
        let second = try results(try #require(next))
        #expect(second.map(\.0) == [3, 4, 5])
        #expect(second.map(\.1) == [false, false, true], "losses at the start of a window are reported")
    }
}

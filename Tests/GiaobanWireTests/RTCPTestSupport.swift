import CAllocCounter
import GiaobanWire
import Testing

/// Shared utilities of the RTCP tests.
enum RTCPTest {
    /// Marshals `builder` into an array of exactly `marshalSize` bytes and checks the count returned.
    static func bytes(of builder: some RTCPPacketBuilder, sourceLocation: SourceLocation = #_sourceLocation) throws -> [UInt8] {
        var out = [UInt8](repeating: 0xEE, count: builder.marshalSize)
        let written = try out.withUnsafeMutableBytes { raw in try builder.marshal(into: raw) }
        #expect(written == out.count, sourceLocation: sourceLocation)
        return out
    }

    /// Expects `builder.marshal` into a buffer one byte short to throw `.bufferTooSmall`.
    static func expectShortBufferThrows(_ builder: some RTCPPacketBuilder, sourceLocation: SourceLocation = #_sourceLocation) {
        var out = [UInt8](repeating: 0, count: builder.marshalSize - 1)
        out.withUnsafeMutableBytes { raw in
            #expect(throws: WireError.self, sourceLocation: sourceLocation) { _ = try builder.marshal(into: raw) }
            do throws(WireError) { _ = try builder.marshal(into: raw) } catch {
                #expect(error.reason == .bufferTooSmall, sourceLocation: sourceLocation)
            }
        }
    }

    /// Expects `parse` to throw on every proper prefix of `bytes` (each copied to its own
    /// exactly-sized buffer).
    static func expectEveryTruncationThrows(
        _ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation,
        _ parse: (UnsafeRawBufferPointer) throws(WireError) -> Void
    ) {
        for length in 0..<bytes.count {
            let prefix = Array(bytes[0..<length])
            prefix.withUnsafeBytes { raw in
                var threw = false
                do { try parse(raw) } catch { threw = true }
                #expect(threw, "prefix of \(length) bytes parsed", sourceLocation: sourceLocation)
            }
        }
    }

    /// The reason `parse` throws with, or nil if it does not throw.
    static func reason(_ bytes: [UInt8], _ parse: (UnsafeRawBufferPointer) throws(WireError) -> Void) -> WireError.Reason? {
        bytes.withUnsafeBytes { raw in
            do throws(WireError) {
                try parse(raw)
                return nil
            } catch {
                return error.reason
            }
        }
    }

    /// Heap allocations made on this thread while running `body`, or nil when the counter is inactive.
    /// Runs `body` twice and returns the allocations of the second run: the first call of a
    /// generic path may instantiate runtime metadata once per process, which is not per-packet
    /// work (and made this check depend on test order).
    static func allocations(_ body: () throws -> Void) rethrows -> UInt64? {
        try body()
        let before = giaoban_thread_allocations()
        try body()
        let after = giaoban_thread_allocations()
        return giaoban_alloc_counter_active() != 0 ? after - before : nil
    }
}

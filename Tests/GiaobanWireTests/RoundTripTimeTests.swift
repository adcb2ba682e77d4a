import GiaobanWire
import Testing

@Suite("Round trip from LSR/DLSR (RFC 3550 §6.4.1)")
struct RoundTripTimeTests {
    @Test("the RFC's example: A = 0xb710:8000, LSR = 0xb705:2000, DLSR 0x0005:4000 → 6.125 s")
    func rfcExample() throws {
        // RFC 3550 Figure 2: A 46864.500 s, LSR 46853.125 s, DLSR 5.250 s → RTT 6.125 s.
        let arrival: UInt64 = 0x0000_B710_8000_0000
        let rtt = try #require(RoundTripTime.fromReport(lastSenderReport: 0xB705_2000, delaySinceLastSenderReport: 0x0005_4000,
                                                       arrivalNTP: arrival))
        #expect(rtt == .milliseconds(6125))
    }

    @Test("compact time and units; no SR echoed or a negative result gives nil")
    func fields() {
        #expect(RoundTripTime.compact(0x1122_3344_5566_7788) == 0x3344_5566)
        #expect(RoundTripTime.compactUnits(.milliseconds(1500)) == 98_304)
        #expect(RoundTripTime.compactUnits(.seconds(-1)) == 0)
        #expect(RoundTripTime.fromReport(lastSenderReport: 0, delaySinceLastSenderReport: 0, arrivalNTP: 1 << 40) == nil)
        #expect(RoundTripTime.fromReport(lastSenderReport: 0x0001_0000, delaySinceLastSenderReport: 0x0001_0000,
                                         arrivalNTP: 0x0000_0001_0000_0000) == nil)
    }
}

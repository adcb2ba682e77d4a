import GiaobanClient
import GiaobanWire
import Testing

/// A TURN server's side of the exchange, enough to drive `TURNAllocation` without sockets:
/// a 401 challenge, optionally one 438, then success responses signed with the long-term key.
private final class FakeTURNServer {
    let realm = "giaoban.test"
    var nonce = "nonce-1"
    let credential: STUNLongTermCredential
    let relayed = STUNAddress(ipv4: 0x7F00_0001, port: 49_152)
    let mapped = STUNAddress(ipv4: 0x7F00_0001, port: 50_000)
    var staleOnce = false
    var seen: [(method: STUNMethod, authenticated: Bool)] = []
    var channel: UInt16?
    var peer: STUNAddress?

    init(credential: STUNLongTermCredential) { self.credential = credential }

    /// The response to `request`.
    func respond(to request: [UInt8]) throws -> [UInt8] {
        try request.withUnsafeBytes { bytes in
            let view = try STUNMessageView(bytes)
            let method = view.type.method
            seen.append((method, view.hasMessageIntegrity))
            let id = view.transactionID
            guard view.hasMessageIntegrity else {
                return try build(.errorResponse, method, id, [.errorCode(.unauthorized), .realm(realm), .nonce(nonce)], signed: false)
            }
            try credential.key(realm: realm).withUnsafeBytes { key in try view.verifyMessageIntegrity(key: key) }
            #expect(view.attribute(.username)?.valueEquals(credential.username) == true)
            if staleOnce {
                staleOnce = false
                nonce = "nonce-2"
                return try build(.errorResponse, method, id, [.errorCode(.staleNonce), .realm(realm), .nonce(nonce)], signed: false)
            }
            #expect(view.attribute(.nonce)?.valueEquals(nonce) == true)
            switch method {
            case .allocate:
                #expect(view.attribute(.requestedTransport).map { Array($0.value) } == [17, 0, 0, 0])
                return try build(.successResponse, method, id, [.raw(.xorRelayedAddress, xor(relayed, id)), .xorMappedAddress(mapped),
                                                                .lifetime(600)], signed: true)
            case .channelBind:
                channel = try view.attribute(.channelNumber).map { UInt16(try $0.uint32() >> 16) }
                peer = try view.attribute(.xorPeerAddress)?.xorMappedAddress(transactionID: id)
                return try build(.successResponse, method, id, [], signed: true)
            default:
                return try build(.successResponse, method, id, method == .refresh ? [.lifetime(600)] : [], signed: true)
            }
        }
    }

    private func xor(_ address: STUNAddress, _ id: STUNTransactionID) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: address.valueByteCount)
        bytes.withUnsafeMutableBytes { address.writeValue(to: $0, at: 0, xor: id) }
        return bytes
    }

    private func build(_ messageClass: STUNClass, _ method: STUNMethod, _ id: STUNTransactionID,
                       _ attributes: [STUNAttributeValue], signed: Bool) throws -> [UInt8] {
        var builder = STUNMessageBuilder(type: STUNMessageType(method: method, messageClass: messageClass), transactionID: id,
                                         integrityKey: signed ? credential.integrityKey(realm: realm) : nil, fingerprint: true)
        for attribute in attributes { try builder.append(attribute) }
        var out = [UInt8](repeating: 0, count: builder.marshalSize)
        _ = try out.withUnsafeMutableBytes { buffer throws(WireError) in try builder.marshal(into: buffer) }
        return out
    }
}

@Suite("TURN client: the allocation state machine (RFC 8656) against a scripted server")
struct TURNAllocationTests {
    let relay = STUNAddress(ipv4: 0x7F00_0001, port: 40_000)
    let server = STUNAddress(ipv4: 0x7F00_0001, port: 3478)
    let credential = STUNLongTermCredential(username: "1767225600:xa-01", password: "c2VjcmV0")

    /// Answers everything the allocation sends until it stops sending; returns how many rounds.
    @discardableResult
    private func run(_ allocation: TURNAllocation, _ fake: FakeTURNServer, now: ContinuousClock.Instant) throws -> Int {
        var rounds = 0
        while case let requests = allocation.takeOutgoing(), !requests.isEmpty, rounds < 20 {
            rounds += 1
            for request in requests {
                let response = try fake.respond(to: request)
                let handled = try response.withUnsafeBytes { bytes in allocation.receive(try STUNMessageView(bytes), now: now) }
                #expect(handled)
            }
        }
        return rounds
    }

    @Test("401 brings REALM and NONCE; Allocate, CreatePermission and ChannelBind then succeed with MESSAGE-INTEGRITY")
    func allocateAndBind() throws {
        let fake = FakeTURNServer(credential: credential)
        let allocation = TURNAllocation(server: server, credential: credential, peer: relay)
        let now = ContinuousClock.now
        allocation.start(now: now)
        try run(allocation, fake, now: now)
        #expect(allocation.state == .ready, "\(allocation.failure ?? "")")
        #expect(fake.seen.map(\.method) == [.allocate, .allocate, .createPermission, .channelBind])
        #expect(fake.seen.map(\.authenticated) == [false, true, true, true])
        #expect(allocation.relayedAddress == fake.relayed && allocation.mappedAddress == fake.mapped)
        #expect(fake.channel == 0x4000 && fake.peer == relay)
        #expect(allocation.lifetime == .seconds(600))
    }

    @Test("438 Stale Nonce: the request goes again with the new NONCE")
    func staleNonce() throws {
        let fake = FakeTURNServer(credential: credential)
        fake.staleOnce = true
        let allocation = TURNAllocation(server: server, credential: credential, peer: relay)
        let now = ContinuousClock.now
        allocation.start(now: now)
        try run(allocation, fake, now: now)
        #expect(allocation.state == .ready, "\(allocation.failure ?? "")")
        #expect(fake.seen.map(\.method) == [.allocate, .allocate, .allocate, .createPermission, .channelBind])
    }

    @Test("a wrong password fails with the server's 401 and a hint")
    func wrongPassword() throws {
        let fake = FakeTURNServer(credential: credential)
        let allocation = TURNAllocation(server: server, credential: STUNLongTermCredential(username: credential.username, password: "wrong"),
                                        peer: relay)
        let now = ContinuousClock.now
        allocation.start(now: now)
        let first = allocation.takeOutgoing()
        try fake.respond(to: first[0]).withUnsafeBytes { allocation.receive(try STUNMessageView($0), now: now) }
        // The server rejects the signed request: a 401 without REALM/NONCE changes.
        let signed = allocation.takeOutgoing()
        #expect(throws: WireError.self) { try fake.respond(to: signed[0]) }
        var reject = STUNMessageBuilder(type: STUNMessageType(method: .allocate, messageClass: .errorResponse),
                                        transactionID: try signed[0].withUnsafeBytes { try STUNMessageView($0).transactionID })
        try reject.append(.errorCode(.unauthorized))
        var out = [UInt8](repeating: 0, count: reject.marshalSize)
        _ = try out.withUnsafeMutableBytes { buffer throws(WireError) in try reject.marshal(into: buffer) }
        try out.withUnsafeBytes { allocation.receive(try STUNMessageView($0), now: now) }
        #expect(allocation.state == .failed)
        #expect(allocation.failure?.contains("401") == true)
    }

    @Test("an unanswered Allocate is sent 7 times, 500 ms apart and doubling, then fails")
    func retransmissions() {
        let allocation = TURNAllocation(server: server, credential: credential, peer: relay)
        var now = ContinuousClock.now
        allocation.start(now: now)
        var sends = allocation.takeOutgoing().count
        while allocation.state != .failed, let next = allocation.nextDeadline {
            now = next
            allocation.handleTimers(now: now)
            sends += allocation.takeOutgoing().count
        }
        #expect(sends == 7)
        #expect(allocation.failure?.contains("no answer") == true)
    }

    @Test("once ready: packets go as ChannelData and come back unwrapped; the allocation and channel are refreshed in time")
    func channelDataAndRefresh() throws {
        let fake = FakeTURNServer(credential: credential)
        let allocation = TURNAllocation(server: server, credential: credential, peer: relay)
        let start = ContinuousClock.now
        allocation.start(now: start)
        try run(allocation, fake, now: start)
        try #require(allocation.state == .ready)

        let packet: [UInt8] = [0x80, 0x60, 0x00, 0x01, 0xAA, 0xBB]
        var wrapped: [UInt8] = []
        #expect(packet.withUnsafeBytes { allocation.wrap($0) { wrapped = Array($0); return true } })
        #expect(wrapped == [0x40, 0x00, 0x00, 0x06] + packet)
        var incoming = wrapped + [0, 0]  // padded to 4 bytes, as a server may over UDP
        let unwrapped = incoming.withUnsafeMutableBytes { allocation.unwrap($0, now: start).map { Array($0) } }
        #expect(unwrapped == packet)
        var otherChannel: [UInt8] = [0x40, 0x01, 0x00, 0x01, 0x00]
        #expect(otherChannel.withUnsafeMutableBytes { allocation.unwrap($0, now: start) } == nil)

        // The channel (and with it the permission) is refreshed after 4 minutes ...
        allocation.handleTimers(now: start + .seconds(241))
        fake.seen.removeAll()
        try run(allocation, fake, now: start + .seconds(241))
        #expect(fake.seen.map(\.method) == [.channelBind])
        allocation.handleTimers(now: start + .seconds(481))
        try run(allocation, fake, now: start + .seconds(481))
        #expect(fake.seen.map(\.method) == [.channelBind, .channelBind])
        // ... and the allocation a minute before its 600 s end.
        allocation.handleTimers(now: start + .seconds(539))
        #expect(allocation.takeOutgoing().isEmpty, "nothing due at 539 s")
        allocation.handleTimers(now: start + .seconds(541))
        try run(allocation, fake, now: start + .seconds(541))
        #expect(fake.seen.map(\.method) == [.channelBind, .channelBind, .refresh])
        #expect(allocation.refreshes == 3 && allocation.state == .ready)
    }
}


/// What an `SRTPContext` remembers per SSRC (RFC 3711 §3.2.3): the highest SRTP packet index
/// (rollover counter ‖ sequence number), the SRTCP index, and a replay window for each.
struct SRTPStreamState {
    /// The SSRC this state belongs to.
    var ssrc: UInt32
    /// The highest 48-bit SRTP index seen (ROC · 2^16 + SEQ); 0 before the first packet.
    var rtpIndex: UInt64 = 0
    /// Outbound: the last SRTCP index sent; inbound: the highest one received.
    var rtcpIndex: UInt64 = 0
}

/// The streams of one context, by SSRC: a small table searched linearly (a peer sends a few
/// SSRCs; a subscriber's connection a few dozen), with room that grows only when a new SSRC
/// arrives, never per packet. Replay bitmaps live beside it in one flat allocation.
final class SRTPStreamTable {
    private(set) var states: UnsafeMutablePointer<SRTPStreamState>
    private var bitmaps: UnsafeMutablePointer<UInt64>
    private(set) var count = 0
    private var capacity: Int
    private var lastSlot = 0
    /// Words per replay window (window size / 64).
    let wordsPerWindow: Int

    init(windowSize: Int, capacity: Int = 8) {
        wordsPerWindow = windowSize / 64
        self.capacity = capacity
        states = .allocate(capacity: capacity)
        bitmaps = .allocate(capacity: capacity * 2 * wordsPerWindow)
    }

    deinit {
        states.deinitialize(count: count)
        states.deallocate()
        bitmaps.deallocate()
    }

    /// The slot of `ssrc`, or nil when this context has not seen it.
    @inline(__always)
    func slot(of ssrc: UInt32) -> Int? {
        if lastSlot < count, states[lastSlot].ssrc == ssrc { return lastSlot }
        for i in 0..<count where states[i].ssrc == ssrc {
            lastSlot = i
            return i
        }
        return nil
    }

    /// The slot of `ssrc`, added with fresh state if new.
    @inline(__always)
    func slotAdding(_ ssrc: UInt32) -> Int {
        if let slot = slot(of: ssrc) { return slot }
        if count == capacity { grow() }
        (states + count).initialize(to: SRTPStreamState(ssrc: ssrc))
        (bitmaps + count * 2 * wordsPerWindow).initialize(repeating: 0, count: 2 * wordsPerWindow)
        count += 1
        lastSlot = count - 1
        return lastSlot
    }

    /// The SRTP replay window of a slot.
    @inline(__always)
    func rtpWindow(_ slot: Int) -> SRTPReplayWindow {
        SRTPReplayWindow(words: bitmaps + slot * 2 * wordsPerWindow, wordCount: wordsPerWindow)
    }

    /// The SRTCP replay window of a slot.
    @inline(__always)
    func rtcpWindow(_ slot: Int) -> SRTPReplayWindow {
        SRTPReplayWindow(words: bitmaps + (slot * 2 + 1) * wordsPerWindow, wordCount: wordsPerWindow)
    }

    private func grow() {
        let newCapacity = capacity * 2
        let newStates = UnsafeMutablePointer<SRTPStreamState>.allocate(capacity: newCapacity)
        newStates.moveInitialize(from: states, count: count)
        states.deallocate()
        states = newStates
        let newBitmaps = UnsafeMutablePointer<UInt64>.allocate(capacity: newCapacity * 2 * wordsPerWindow)
        newBitmaps.initialize(from: bitmaps, count: count * 2 * wordsPerWindow)
        bitmaps.deallocate()
        bitmaps = newBitmaps
        capacity = newCapacity
    }
}

/// A replay list (RFC 3711 §3.3.2) of `64 · wordCount` packets as a ring bitmap: the bit of
/// index i is i mod size, so moving forward clears bits instead of shifting the whole map.
/// Semantics follow libsrtp's: `delta` is the distance from the highest index seen.
struct SRTPReplayWindow {
    let words: UnsafeMutablePointer<UInt64>
    let wordCount: Int

    private var size: Int { wordCount * 64 }

    /// nil when a packet `delta` from `highest` is acceptable, else why not.
    @inline(__always)
    func check(highest: UInt64, delta: Int) -> SRTPError.Reason? {
        if delta > 0 { return nil }
        if delta <= -size { return .tooOld }
        return isSet(highest &+ UInt64(bitPattern: Int64(delta))) ? .replayed : nil
    }

    /// Records the packet `delta` from `highest`, moving `highest` forward when delta > 0.
    @inline(__always)
    func add(highest: inout UInt64, delta: Int) {
        if delta > 0 {
            if delta >= size {
                words.update(repeating: 0, count: wordCount)
            } else {
                for k in 1..<delta { clear(highest &+ UInt64(k)) }
            }
            highest &+= UInt64(delta)
            set(highest)
        } else if delta > -size {
            set(highest &+ UInt64(bitPattern: Int64(delta)))
        }
    }

    @inline(__always) private func position(_ index: UInt64) -> (Int, UInt64) {
        let bit = Int(truncatingIfNeeded: index) & (size - 1)
        return (bit >> 6, 1 << UInt64(bit & 63))
    }
    @inline(__always) private func isSet(_ index: UInt64) -> Bool {
        let (word, mask) = position(index)
        return words[word] & mask != 0
    }
    @inline(__always) private func set(_ index: UInt64) {
        let (word, mask) = position(index)
        words[word] |= mask
    }
    @inline(__always) private func clear(_ index: UInt64) {
        let (word, mask) = position(index)
        words[word] &= ~mask
    }
}

/// The packet index estimate of RFC 3711 §3.3.1 (Appendix A), as libsrtp computes it.
enum SRTPIndex {
    /// The 48-bit index of sequence number `seq` given the highest index seen, and its
    /// distance from that index (positive: newer).
    @inline(__always)
    static func estimate(highest: UInt64, seq: UInt16) -> (index: UInt64, delta: Int) {
        let s = Int(seq), local = Int(UInt16(truncatingIfNeeded: highest))
        // Until the first half-range of sequence numbers has passed, the ROC is 0.
        guard highest > 0x8000 else { return (UInt64(seq), s - local) }
        let roc = UInt32(truncatingIfNeeded: highest >> 16)
        var guess = roc, delta = s - local
        if local < 0x8000 {
            if s - local > 0x8000 { guess = roc &- 1; delta = s - local - 0x10000 }
        } else if local - 0x8000 > s {
            guess = roc &+ 1
            delta = s - local + 0x10000
        }
        return (UInt64(guess) << 16 | UInt64(seq), delta)
    }
}

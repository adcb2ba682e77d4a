@testable import GiaobanEngine
import GiaobanWire
import Testing

@Suite("VP8 picture ID and TL0PICIDX rewriting across layer switches")
struct VP8PictureRewriterTests {
    /// A payload with a VP8 descriptor: X, I (15-bit picture ID), L (TL0PICIDX), then one VP8 byte.
    func payload(picture: UInt16, tl0: UInt8) -> [UInt8] {
        [0x90, 0xC0, 0x80 | UInt8(picture >> 8), UInt8(picture & 0xFF), tl0, 0x00]
    }

    func rewrite(_ rewriter: inout VP8PictureRewriter, _ bytes: [UInt8]) throws -> (UInt16, UInt8) {
        var copy = bytes
        try bytes.withUnsafeBytes { input in
            let descriptor = try VP8PayloadDescriptor(input)
            copy.withUnsafeMutableBytes { rewriter.apply(descriptor, to: $0) }
        }
        return try copy.withUnsafeBytes { buffer in
            let parsed = try VP8PayloadDescriptor(buffer)
            return (try #require(parsed.pictureID), try #require(parsed.tl0PicIdx))
        }
    }

    @Test("the output continues after the last picture sent when the source jumps, wrapping at 15 and 8 bits")
    func continuity() throws {
        var r = VP8PictureRewriter()
        #expect(try rewrite(&r, payload(picture: 100, tl0: 7)) == (100, 7), "the first source passes unchanged")
        #expect(try rewrite(&r, payload(picture: 101, tl0: 8)) == (101, 8))
        // A switch to a layer numbering far away (and wrapping).
        r.rebase(picture: 0x7FFE, tl0: 250)
        #expect(try rewrite(&r, payload(picture: 0x7FFE, tl0: 250)) == (102, 9))
        #expect(try rewrite(&r, payload(picture: 0x7FFF, tl0: 251)) == (103, 10))
        #expect(try rewrite(&r, payload(picture: 0, tl0: 252)) == (104, 11), "input wraps, output continues")
        // A retransmission of an older picture is renumbered the same way and does not move the mark.
        #expect(try rewrite(&r, payload(picture: 0x7FFF, tl0: 251)) == (103, 10))
        r.rebase(picture: 5, tl0: 0)
        #expect(try rewrite(&r, payload(picture: 5, tl0: 0)) == (105, 12))
    }
}

/// Big-endian (network order) loads and stores on raw buffers.
///
/// These helpers do no bounds checks of their own; callers check lengths once per
/// structure and then read fields at fixed offsets, as RFC diagrams lay them out.
extension UnsafeRawBufferPointer {
    /// Reads one byte at `offset`.
    @inlinable @inline(__always)
    public func u8(at offset: Int) -> UInt8 {
        self[offset]
    }

    /// Reads a big-endian 16-bit integer at `offset`.
    @inlinable @inline(__always)
    public func u16(at offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// Reads a big-endian 24-bit integer at `offset`.
    @inlinable @inline(__always)
    public func u24(at offset: Int) -> UInt32 {
        UInt32(self[offset]) << 16 | UInt32(self[offset + 1]) << 8 | UInt32(self[offset + 2])
    }

    /// Reads a big-endian 32-bit integer at `offset`.
    @inlinable @inline(__always)
    public func u32(at offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// Reads a big-endian 64-bit integer at `offset`.
    @inlinable @inline(__always)
    public func u64(at offset: Int) -> UInt64 {
        UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// A sub-view of `count` bytes at `offset`; the caller has checked the bounds.
    @inlinable @inline(__always)
    public func slice(_ offset: Int, _ count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[offset..<(offset + count)])
    }
}

extension UnsafeMutableRawBufferPointer {
    /// Writes one byte at `offset`.
    @inlinable @inline(__always)
    public func setU8(_ value: UInt8, at offset: Int) {
        self[offset] = value
    }

    /// Writes a big-endian 16-bit integer at `offset`.
    @inlinable @inline(__always)
    public func setU16(_ value: UInt16, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }

    /// Writes a big-endian 24-bit integer (low 24 bits of `value`) at `offset`.
    @inlinable @inline(__always)
    public func setU24(_ value: UInt32, at offset: Int) {
        self[offset] = UInt8(truncatingIfNeeded: value >> 16)
        self[offset + 1] = UInt8(truncatingIfNeeded: value >> 8)
        self[offset + 2] = UInt8(truncatingIfNeeded: value)
    }

    /// Writes a big-endian 32-bit integer at `offset`.
    @inlinable @inline(__always)
    public func setU32(_ value: UInt32, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }

    /// Writes a big-endian 64-bit integer at `offset`.
    @inlinable @inline(__always)
    public func setU64(_ value: UInt64, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt64.self)
    }
}

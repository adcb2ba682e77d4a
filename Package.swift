// swift-tools-version:6.2
// Giaoban: a WebRTC selective-forwarding relay and operations hub.
//
// Targets follow the layers of docs/architecture.md; dependencies point downward only:
//   C modules  -> COpus, CVPX, COpenSSL, CSRTP, CSQLite, CPostgres (system libraries + inline shims), CAllocCounter, CUDPBatch
//   Wire       -> GiaobanWire (RTP, RTCP, STUN, SDP, payload descriptors; no I/O, no dependencies)
//   Protocol   -> GiaobanCodecs (libopus, libvpx), GiaobanCrypto (OpenSSL: DTLS), GiaobanSRTP (libsrtp2),
//                 GiaobanICE (ICE-lite)
//   Engine     -> GiaobanEngine (media router: forwarding, feedback, SDP negotiation)
//   Edges      -> GiaobanStore (SQLite or PostgreSQL: durable records), GiaobanClient
//   Mixing     -> GiaobanMixer (per meeting: audio mix-minus, video composition; above GiaobanClient for its
//                 VP8 frame assembler and packetizer)
//   Server     -> GiaobanServer (configuration, HTTP control plane, media socket, hub, meeting rooms; uses
//                 GiaobanMixer for rooms' mixed mode)
//   Apps       -> giaoban (command line), giaoban-bench (Bench/)
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "giaoban",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "giaoban", targets: ["giaoban"]),
        .executable(name: "giaoban-bench", targets: ["GiaobanBench"]),
        .library(name: "GiaobanWire", targets: ["GiaobanWire"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
    ],
    targets: [
        // MARK: C modules
        .systemLibrary(name: "COpus", pkgConfig: "opus", providers: [.apt(["libopus-dev"])]),
        .systemLibrary(name: "CVPX", pkgConfig: "vpx", providers: [.apt(["libvpx-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSRTP", pkgConfig: "libsrtp2", providers: [.apt(["libsrtp2-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .target(name: "CAllocCounter"),
        .target(name: "CUDPBatch"),

        // MARK: Wire
        .target(name: "GiaobanWire", swiftSettings: strict),

        // MARK: Protocol
        .target(name: "GiaobanCodecs", dependencies: ["COpus", "CVPX"], swiftSettings: strict),
        .target(name: "GiaobanCrypto", dependencies: ["COpenSSL", "GiaobanSRTP"], swiftSettings: strict),
        .target(name: "GiaobanSRTP", dependencies: ["CSRTP"], swiftSettings: strict),
        .target(name: "GiaobanICE", dependencies: ["GiaobanWire"], swiftSettings: strict),
        .target(name: "GiaobanUDP", dependencies: ["CUDPBatch", "GiaobanWire"], swiftSettings: strict),

        // MARK: Engine
        .target(
            name: "GiaobanEngine",
            dependencies: ["GiaobanWire", "GiaobanICE", "GiaobanCrypto", "GiaobanSRTP"],
            swiftSettings: strict
        ),

        // MARK: Edges
        .target(name: "GiaobanStore", dependencies: ["CSQLite", "CPostgres"], swiftSettings: strict),
        .target(
            name: "GiaobanServer",
            dependencies: [
                "GiaobanEngine", "GiaobanCrypto", "GiaobanWire", "CUDPBatch", "GiaobanUDP", "GiaobanStore", "GiaobanMixer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // MARK: Client
        .target(
            name: "GiaobanClient",
            dependencies: [
                "GiaobanWire", "GiaobanICE", "GiaobanCrypto", "GiaobanSRTP", "GiaobanCodecs", "GiaobanEngine", "CUDPBatch", "GiaobanUDP",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // MARK: Mixing
        .target(
            name: "GiaobanMixer",
            dependencies: ["GiaobanCodecs", "GiaobanWire", "GiaobanEngine", "GiaobanClient"],
            swiftSettings: strict
        ),

        // MARK: Apps
        .executableTarget(
            name: "giaoban",
            dependencies: [
                "GiaobanServer", "GiaobanEngine", "GiaobanCrypto", "GiaobanClient", "GiaobanCodecs",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "GiaobanBench",
            dependencies: [
                "GiaobanWire", "GiaobanEngine", "GiaobanSRTP", "CAllocCounter", "GiaobanClient", "GiaobanServer",
                "GiaobanMixer", "GiaobanCodecs",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Bench/Sources/GiaobanBench",
            swiftSettings: strict
        ),

        // MARK: Tests
        .testTarget(name: "GiaobanWireTests", dependencies: ["GiaobanWire", "CAllocCounter"],
                    resources: [.copy("Fixtures")], swiftSettings: strict),
        .testTarget(name: "GiaobanCodecsTests", dependencies: ["GiaobanCodecs"], swiftSettings: strict),
        .testTarget(name: "GiaobanCryptoTests", dependencies: ["GiaobanCrypto", "GiaobanSRTP"], swiftSettings: strict),
        .testTarget(name: "GiaobanMixerTests", dependencies: ["GiaobanMixer", "GiaobanCodecs", "GiaobanWire", "GiaobanClient"],
                    swiftSettings: strict),
        .testTarget(name: "GiaobanEngineTests", dependencies: ["GiaobanEngine", "CAllocCounter"], swiftSettings: strict),
        .testTarget(
            name: "GiaobanClientTests",
            dependencies: [
                "GiaobanClient", "GiaobanServer", "GiaobanEngine", "GiaobanCrypto", "GiaobanICE", "GiaobanWire",
                "GiaobanCodecs",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "GiaobanStoreTests",
            dependencies: [
                "GiaobanStore", "GiaobanServer", "GiaobanCrypto", "GiaobanClient",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSTesting", package: "hummingbird-websocket"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "GiaobanServerTests",
            dependencies: [
                "GiaobanServer",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strict
        ),
    ]
)

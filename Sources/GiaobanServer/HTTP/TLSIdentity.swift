import HummingbirdCore
public import Logging
import NIOCore
import NIOSSL
import NIOTLS
public import Synchronization

/// The control plane's TLS certificate and key (`http.tls_certificate`, `http.tls_private_key`),
/// read from PEM files at start and again on `reload` (SIGHUP): connections made after a reload
/// get the new certificate, open ones (a meeting's WebSockets) keep theirs.
public final class TLSIdentity: Sendable {
    /// The certificate chain's PEM file.
    public let certificatePath: String
    /// The private key's PEM file.
    public let privateKeyPath: String
    private let context: Mutex<NIOSSLContext>
    /// TLS handshakes completed (`giaoban_tls_handshakes_total`).
    public let handshakes = Atomic<Int>(0)
    /// Connections closed because their TLS handshake failed: garbage, plain HTTP, an
    /// unsupported version (`giaoban_tls_handshake_failures_total`).
    public let handshakeFailures = Atomic<Int>(0)

    /// Why the certificate or key could not be used.
    public struct LoadError: Error, CustomStringConvertible {
        /// What is wrong, naming the file.
        public let description: String
    }

    /// Reads both files; throws with the file and the reason when either is unusable.
    public init(certificatePath: String, privateKeyPath: String) throws(LoadError) {
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
        context = Mutex(try Self.load(certificatePath: certificatePath, privateKeyPath: privateKeyPath))
    }

    /// The context new connections are set up with.
    var current: NIOSSLContext { context.withLock { $0 } }

    /// Reads the files again; on failure the previous certificate stays in use.
    public func reload() throws(LoadError) {
        let fresh = try Self.load(certificatePath: certificatePath, privateKeyPath: privateKeyPath)
        context.withLock { $0 = fresh }
    }

    /// Reloads and logs the outcome (the SIGHUP handler).
    public func reload(logger: Logger) {
        do {
            try reload()
            logger.notice("TLS certificate reloaded", metadata: ["certificate": "\(certificatePath)"])
        } catch {
            logger.error("TLS certificate not reloaded; the previous one stays in use", metadata: ["error": "\(error)"])
        }
    }

    static func load(certificatePath: String, privateKeyPath: String) throws(LoadError) -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(certificatePath) } catch {
            throw LoadError(description: "http.tls_certificate \(certificatePath): no PEM certificate could be read (\(error))")
        }
        guard !chain.isEmpty else { throw LoadError(description: "http.tls_certificate \(certificatePath): no certificate in the file") }
        let key: NIOSSLPrivateKey
        do { key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem) } catch {
            throw LoadError(description: "http.tls_private_key \(privateKeyPath): no PEM private key could be read (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) },
                                                                     privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        do { return try NIOSSLContext(configuration: configuration) } catch {
            throw LoadError(description: "http.tls_certificate / http.tls_private_key: unusable together (\(error))")
        }
    }
}

/// A child channel that speaks TLS with the identity's current context, then `base`.
struct ReloadableTLSChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base
    let identity: TLSIdentity

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let context = identity.current
        do {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
            try channel.pipeline.syncOperations.addHandler(TLSHandshakeWatch(identity: identity))
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return base.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// Counts a connection's TLS handshake, completed or failed, for /metrics; a failed one is
/// closed (the TLS layer has sent its alert).
final class TLSHandshakeWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let identity: TLSIdentity
    private var completed = false

    init(identity: TLSIdentity) { self.identity = identity }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent, !completed {
            completed = true
            identity.handshakes.add(1, ordering: .relaxed)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !completed {
            completed = true
            identity.handshakeFailures.add(1, ordering: .relaxed)
            context.close(promise: nil)
            return
        }
        context.fireErrorCaught(error)
    }
}

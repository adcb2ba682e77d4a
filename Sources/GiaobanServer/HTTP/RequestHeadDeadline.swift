import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore

/// Closes an HTTP connection that has not sent a complete request head (`\r\n\r\n`) within
/// `timeout` of connecting — an idle socket or a head trickled a byte at a time — and one that
/// then goes quiet for `timeout` before the server starts answering. Once the server writes,
/// Hummingbird's own idle timeout (`HTTP1Channel.Configuration.idleTimeout`) takes over, which
/// only starts with the first request. It also closes a connection still waiting for its first
/// head when the server shuts down, so that an idle client cannot hold the shutdown open.
final class RequestHeadDeadline: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let timeout: TimeAmount
    private var scheduled: Scheduled<Void>?
    /// The last bytes seen, to find `\r\n\r\n` split across reads.
    private var tail: [UInt8] = []
    private var headComplete = false
    private var finished = false

    init(timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        scheduled?.cancel()
        scheduled = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if headComplete {
            arm(context, restart: true)  // a body arriving: idle time counts from its last byte
        } else if containsHeadEnd(unwrapInboundIn(data)) {
            headComplete = true
            arm(context, restart: true)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if !finished {
            // The server is answering: Hummingbird's connection state handler is in place now,
            // and this handler only passes bytes on from here.
            finished = true
            scheduled?.cancel()
            scheduled = nil
        }
        context.write(data, promise: promise)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, !headComplete {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func arm(_ context: ChannelHandlerContext, restart: Bool = false) {
        guard !finished else { return }
        if restart {
            scheduled?.cancel()
            scheduled = nil
        }
        guard scheduled == nil else { return }
        let loop = context.eventLoop.assumeIsolated()
        scheduled = loop.scheduleTask(in: timeout) { [self] in
            scheduled = nil
            guard !finished else { return }
            context.close(promise: nil)
        }
    }

    private func containsHeadEnd(_ buffer: ByteBuffer) -> Bool {
        let bytes = tail + buffer.readableBytesView
        let end: [UInt8] = [13, 10, 13, 10]
        if bytes.count >= 4 {
            for i in 0...(bytes.count - 4) where bytes[i] == 13 && Array(bytes[i..<(i + 4)]) == end { return true }
        }
        tail = Array(bytes.suffix(3))
        return false
    }
}

/// HTTP/1.1 with WebSocket upgrade, each connection guarded by a `RequestHeadDeadline`.
struct DeadlineHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1WebSocketUpgradeChannel.Value

    let inner: HTTP1WebSocketUpgradeChannel
    let headTimeout: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        do {
            try channel.pipeline.syncOperations.addHandler(RequestHeadDeadline(timeout: headTimeout))
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return inner.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

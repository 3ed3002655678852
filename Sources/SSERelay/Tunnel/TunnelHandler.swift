import NIOCore

/// One end of a byte-for-byte tunnel between two channels on the same event loop, used once a
/// client's `Upgrade` request got the upstream's `101 Switching Protocols`.
///
/// Bytes read on one channel are written to the partner's; a partner that cannot keep up stops
/// this side's reads (its ``ReadGate``), so a slow reader slows only its own writer. When one
/// side closes, the other is closed after its pending writes are flushed.
final class TunnelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The other end; the pair references each other until either side closes.
    var partner: TunnelHandler?

    private var context: ChannelHandlerContext?
    private var readGate = ReadGate()
    private var pendingFlush = false
    /// Set when the partner closed before this end was added to its pipeline.
    private var partnerClosedEarly = false

    /// Creates the two ends of a tunnel, each the other's partner.
    static func makePair() -> (TunnelHandler, TunnelHandler) {
        let first = TunnelHandler()
        let second = TunnelHandler()
        first.partner = second
        second.partner = first
        return (first, second)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if self.partnerClosedEarly {
            self.partnerDidClose()
        } else if !context.channel.isActive {
            let partner = self.partner
            self.partner = nil
            partner?.partnerDidClose()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.partner?.partnerWrite(self.unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let partner = self.partner
        self.partner = nil
        partner?.partnerDidClose()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            self.partner?.partnerBecameWritable()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if self.readGate.shouldRead() {
            context.read()
        }
    }

    // MARK: Called by the partner

    private func partnerWrite(_ buffer: ByteBuffer) {
        guard let context = self.context else { return }
        context.write(self.wrapOutboundOut(buffer), promise: nil)
        self.pendingFlush = true
        if !context.channel.isWritable {
            self.partner?.readGate.pause(.peerUnwritable)
        }
    }

    private func partnerFlush() {
        guard self.pendingFlush, let context = self.context else { return }
        self.pendingFlush = false
        context.flush()
    }

    /// Flushes what the partner wrote outside a read burst (bytes a decoder handed over when it
    /// was removed, without a `channelReadComplete`).
    func flushPartnerWrites() {
        self.partnerFlush()
    }

    private func partnerBecameWritable() {
        // This side's reads were held back because the partner's channel was full; it drained.
        if self.readGate.resume(.peerUnwritable) {
            self.context?.read()
        }
    }

    private func partnerDidClose() {
        self.partner = nil
        guard let context = self.context else {
            self.partnerClosedEarly = true
            return
        }
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)))
            .whenComplete { _ in channel.close(promise: nil) }
    }
}

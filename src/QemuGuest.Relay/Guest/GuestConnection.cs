using System;
using System.IO;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Framing;
using QemuGuest.Protocol.Link;
using QemuGuest.Protocol.Transports;
using QemuGuest.Relay.Configuration;
using QemuGuest.Relay.Wire;

namespace QemuGuest.Relay.Guest;

/// <summary>A failure of the guest channel that ends one request (the message is for the client).</summary>
public sealed class GuestChannelException : Exception
{
    public GuestChannelException(string message, Exception? inner = null, bool notSent = false, QgaInterruption? interruption = null)
        : base(message, inner)
    {
        NotSent = notSent;
        Interruption = interruption;
    }

    /// <summary>The connection was already gone: not one byte of the request was written.</summary>
    public bool NotSent { get; }

    /// <summary>What the client is told structurally, when this ends its request as an interruption.</summary>
    public QgaInterruption? Interruption { get; }
}

/// <summary>
/// One open connection to a VM's agent chardev: the protocol's <see cref="AgentLink"/> (stream,
/// reader loop on its own thread so the guest can never fill a buffer the relay does not drain,
/// framing, sync rounds, writes, close) plus what the relay adds on the reader side: strict
/// parsing with <see cref="BoundedJson"/>, a message reaches the outstanding
/// <see cref="Expectation"/> only when its id matches, everything else is dropped and counted.
/// Writes come from the VM channel's single request loop.
/// </summary>
internal sealed class GuestConnection : AgentLinkReceiver, IAsyncDisposable
{
    private readonly string _vm;
    private readonly LimitOptions _limits;
    private readonly RelayCounters _counters;
    private readonly ILogger _logger;
    private readonly AgentLink _link;
    private Expectation? _expect;
    private BulkRelay? _bulk;
    private volatile bool _needsResync;

    private GuestConnection(Stream stream, bool blocking, string vm, LimitOptions limits, RelayCounters counters, ILogger logger)
    {
        _vm = vm;
        _limits = limits;
        _counters = counters;
        _logger = logger;
        _link = new AgentLink(stream, new AgentLinkOptions
        {
            MaxMessageBytes = limits.MaxReplyBytes,
            MaxDepth = limits.MaxDepth,
            MaxTokens = limits.MaxTokens,
            MaxUnusableBytes = (long)limits.MaxReplyBytes + limits.MaxGarbageBytes,
            WriteTimeout = limits.WriteTimeout,
            SynchronousWrites = blocking,
            ReadThreadName = "qga-read " + vm,
        }, this);
        _link.Start();
    }

    /// <summary>The link under this connection: sync runs on it.</summary>
    public AgentLink Link => _link;

    /// <summary>Cancelled when the connection is gone (EOF, error, or disposed).</summary>
    public CancellationToken Closed => _link.Closed;

    public string CloseReason => _link.CloseReason ?? "closed";

    /// <summary>Set when the stream can no longer be trusted to be in step: sync before the next request.</summary>
    public bool NeedsResync
    {
        get => _needsResync;
        set => _needsResync = value;
    }

    /// <summary>
    /// Opens the agent chardev through the protocol's transport for its connection string. A
    /// unix socket (a VM's chardev) is opened in blocking mode and only ever read and written
    /// synchronously: a reply then wakes the reader thread straight from the kernel, with no
    /// hop through the runtime's socket event thread (UnixSocketTransport.ConnectBlocking).
    /// </summary>
    public static async Task<GuestConnection> ConnectAsync(IGuestAgentTransport transport, string vm, LimitOptions limits, RelayCounters counters, ILogger logger, CancellationToken cancellationToken)
    {
        if (transport is UnixSocketTransport unix)
        {
            // A unix connect answers at once, or waits for a full backlog (at most the bound).
            var blocking = await Task.Run(() => unix.ConnectBlocking(ConnectTimeout), cancellationToken).ConfigureAwait(false);
            return new GuestConnection(blocking, blocking: true, vm, limits, counters, logger);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ConnectTimeout);
        var stream = await transport.ConnectAsync(timeout.Token).ConfigureAwait(false);
        return new GuestConnection(stream, blocking: false, vm, limits, counters, logger);
    }

    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Registers what the next accepted message must be; any previous expectation fails.</summary>
    public Expectation Expect(long id, string command, bool inline = false)
    {
        var e = new Expectation(id, command, inline);
        var old = Interlocked.Exchange(ref _expect, e);
        old?.TryFail("superseded");
        if (_link.IsClosed)
        {
            e.TryFail(DisconnectedText(), QgaInterruption.ConnectionLost);
        }

        return e;
    }

    /// <summary>A bulk transfer begins: its accepting reply is <see cref="BulkRelay.Accept"/>.</summary>
    public void BeginBulk(BulkRelay bulk)
    {
        bulk.Connection = this;
        Volatile.Write(ref _bulk, bulk);
    }

    /// <summary>The transfer is over: a 0xB7 from the guest is a stray byte again.</summary>
    public void EndBulk()
    {
        Volatile.Write(ref _bulk, null);
        _link.AcceptBulkFrames(0);
    }

    /// <summary>The waiter gave up (timeout): later replies to it are stale.</summary>
    public void Clear(Expectation e)
    {
        Interlocked.CompareExchange(ref _expect, null, e);
        e.TryFail("abandoned");
        e.DisposeUnclaimed();
    }

    /// <summary>Fails the outstanding request now (e.g. QMP says the guest closed the port).</summary>
    public void FailCurrent(string message)
    {
        var e = Interlocked.Exchange(ref _expect, null);
        e?.TryFail(message);
        _needsResync = true;
    }

    /// <summary>Ends the connection (the reader sees it closed; the request in flight fails as lost).</summary>
    public void Close(string reason) => _link.Close(reason);

    public async Task WriteAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        try
        {
            await _link.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (AgentLinkException e)
        {
            throw new GuestChannelException(e.Message, e.InnerException, e.NotSent);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _link.Close("closed by the relay");
        try
        {
            await _link.ReadCompletion.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The socket is shut down; the thread ends on its own.
        }
    }

    public override void OnBytes(AgentLink link, int count)
    {
        RelayCounters.Add(ref _counters.BytesFromGuest, count);
        Volatile.Read(ref _expect)?.NoteBytes();
        Volatile.Read(ref _bulk)?.Touch();
    }

    public override void OnBulkFrame(AgentLink link, ReadOnlyMemory<byte> payload)
    {
        var bulk = Volatile.Read(ref _bulk);
        if (bulk is null || bulk.IsWrite || bulk.Final is null)
        {
            RelayCounters.Inc(ref _counters.BulkRejected);
            link.Close("a bulk frame nobody asked for");
            return;
        }

        if (bulk.ForwardGuestFrame(payload.Span, _counters) is { } problem)
        {
            RejectGuestFrames(bulk, problem);
            link.Close("bad bulk frame: " + problem);
        }
    }

    public override void OnBulkEnd(AgentLink link, string? error)
    {
        _link.AcceptBulkFrames(0);
        var bulk = Volatile.Read(ref _bulk);
        if (bulk is null)
        {
            return;
        }

        if (error is null)
        {
            bulk.ForwardGuestEnd();
            return;
        }

        // The link closes after this: where the guest's next frame or message starts is unknown.
        RejectGuestFrames(bulk, error);
    }

    public override void OnWritten(AgentLink link, int count) => RelayCounters.Add(ref _counters.BytesToGuest, count);

    public override void OnSyncRound(AgentLink link, SyncRound round) => RelayCounters.Inc(ref _counters.Resyncs);

    public override void OnSyncDiscarded(AgentLink link, ReadOnlyMemory<byte> message)
    {
        // Expected while syncing: stale replies, the parse error for our 0xFF.
        MemoryGovernor.AfterMessage(message.Length);
        RelayCounters.Inc(ref _counters.SyncDiscarded);
    }

    public override void OnUnusableOverflow(AgentLink link, long bytes)
    {
        RelayCounters.Inc(ref _counters.GarbageResyncs);
        Log.GarbageOverflow(_logger, _vm, bytes);
        _needsResync = true;
        FailCurrentFromReader($"the guest agent sent more than {_limits.MaxReplyBytes + (long)_limits.MaxGarbageBytes} bytes without a usable reply; channel resynchronised");
    }

    public override void OnClosed(AgentLink link, string reason, Exception? error)
    {
        var pending = Interlocked.Exchange(ref _expect, null);
        pending?.TryFail(DisconnectedText(), QgaInterruption.ConnectionLost);
    }

    public override void OnFrame(AgentLink link, JsonFrame frame, bool syncing)
    {
        switch (frame.Kind)
        {
            case JsonFrameKind.StrayByte:
            case JsonFrameKind.UnexpectedByte:
                if (frame.Byte != JsonMessageWriter.Delimiter)
                {
                    RelayCounters.Inc(ref _counters.GarbageBytes);
                }

                return;
            case JsonFrameKind.TooLarge:
            case JsonFrameKind.TooDeep:
            case JsonFrameKind.TooManyTokens:
            {
                MemoryGovernor.AfterMessage(frame.Kind == JsonFrameKind.TooLarge ? _limits.MaxReplyBytes : 0);
                string bound = frame.Kind switch
                {
                    JsonFrameKind.TooLarge => $"larger than {_limits.MaxReplyBytes} bytes",
                    JsonFrameKind.TooDeep => $"nested deeper than {_limits.MaxDepth}",
                    _ => $"made of more than {_limits.MaxTokens} JSON tokens",
                };
                RelayCounters.Inc(ref _counters.Oversized);
                Log.Oversized(_logger, _vm, bound);
                _needsResync = true;
                FailCurrentFromReader($"the guest agent's reply was {bound}; not passed on, channel resynchronised");
                return;
            }
        }
    }

    public override void OnMessage(AgentLink link, ReadOnlyMemory<byte> frame)
    {
        var message = BoundedJson.TryParse(frame.Span, _limits.MaxDepth, out string? error);
        MemoryGovernor.AfterMessage(frame.Length);
        if (message is null)
        {
            RelayCounters.Inc(ref _counters.Malformed);
            RelayCounters.Add(ref _counters.GarbageBytes, frame.Length);
            Log.Dropped(_logger, _vm, "not strict JSON: " + Protocol.GuestText.Printable(error));
            var outstanding = Volatile.Read(ref _expect);
            if (outstanding is not null && BoundedJson.NamesId(frame.Span, outstanding.Id, _limits.MaxDepth))
            {
                // The reply to the outstanding request, and broken: no other reply will come, and
                // waiting for one would end in a timeout that misnames the fault.
                _needsResync = true;
                FailFromReader(outstanding, $"the guest agent's reply is not valid JSON ({WireTexts.ParseError(error!)}); not passed on, channel resynchronised");
            }

            return;
        }

        var expect = Volatile.Read(ref _expect);
        bool accepted = false;
        var root = message.Root;
        if (expect is null)
        {
            RelayCounters.Inc(ref _counters.Unsolicited);
            Log.Dropped(_logger, _vm, "unsolicited");
        }
        else if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("id", out var id))
        {
            if (id.ValueKind == JsonValueKind.Number && id.TryGetInt64(out long v) && v == expect.Id)
            {
                accepted = true;
            }
            else
            {
                RelayCounters.Inc(ref _counters.Dropped);
                Log.Dropped(_logger, _vm, "id matches no outstanding request (stale, forged or duplicate)");
            }
        }
        else
        {
            RelayCounters.Inc(ref _counters.Dropped);
            Log.Dropped(_logger, _vm, "reply without id while a request was outstanding");
        }

        if (accepted && Interlocked.CompareExchange(ref _expect, null, expect) == expect)
        {
            _link.NoteAccepted();
            if (Volatile.Read(ref _bulk) is { } bulk && bulk.Accept == expect && root.TryGetProperty("return", out var start))
            {
                // Accepted: the second reply carries the same id, and for a read the frames may
                // follow in this very read, so both are set up before the reader goes on.
                var final = new Expectation(expect!.Id, expect.Command);
                bulk.Final = final;
                Volatile.Write(ref _expect, final);
                bulk.MaxFrame = NegotiatedFrameBytes(start);
                if (!bulk.IsWrite && bulk.MaxFrame > 0)
                {
                    _link.AcceptBulkFrames(bulk.MaxFrame);
                }
            }

            if (!expect!.TryComplete(message))
            {
                message.Dispose();
            }

            return;
        }

        RelayCounters.Add(ref _counters.GarbageBytes, message.Length);
        message.Dispose();
    }

    /// <summary>The guest's max-frame-bytes when it is one our frame reader takes (1 to <see cref="BulkFrame.MaxPayloadBytes"/>), else 0.</summary>
    private static int NegotiatedFrameBytes(JsonElement start) =>
        start.ValueKind == JsonValueKind.Object && start.TryGetProperty("max-frame-bytes", out var max) && max.ValueKind == JsonValueKind.Number
            && max.TryGetInt64(out long n) && n >= 1 && n <= BulkFrame.MaxPayloadBytes
            ? (int)n
            : 0;

    /// <summary>A guest frame broke a rule: the transfer's second reply becomes the named error.</summary>
    private void RejectGuestFrames(BulkRelay bulk, string problem)
    {
        RelayCounters.Inc(ref _counters.BulkRejected);
        bulk.SetGuestFailure(problem);
        Log.BulkRejected(_logger, _vm, "guest frame: " + Protocol.GuestText.Printable(problem));
        if (bulk.Final is { } final && Interlocked.CompareExchange(ref _expect, null, final) == final)
        {
            final.TryFail(BulkRelayTexts.GuestFrame(final.Command, problem), QgaInterruption.BadFrame);
        }
    }

    private string DisconnectedText() =>
        "the connection to the guest agent was lost (" + CloseReason + "; VM reboot, agent restart or migration?); the command may or may not have run";

    /// <summary>Fails the outstanding request from the reader (a sync in progress has none: it is the remedy).</summary>
    private void FailCurrentFromReader(string message) => FailFromReader(Volatile.Read(ref _expect), message);

    /// <summary>Fails <paramref name="e"/> if it is still the outstanding request.</summary>
    private void FailFromReader(Expectation? e, string message)
    {
        if (e is not null && Interlocked.CompareExchange(ref _expect, null, e) == e)
        {
            e.TryFail(message);
        }
    }
}

using System;
using System.Diagnostics;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Framing;

namespace QemuGuest.Relay.Guest;

/// <summary>The client end of a bulk transfer (the endpoint's session): whole writes, bounded in time.</summary>
internal interface IBulkClient
{
    /// <summary>Writes from the guest reader's thread; false when the client is gone or did not take the bytes within the write timeout.</summary>
    bool WriteBlocking(ReadOnlyMemory<byte> bytes);

    /// <summary>The client's next bytes (what the session had read past the request first); empty at end of stream.</summary>
    ValueTask<ReadOnlyMemory<byte>> ReadAsync(CancellationToken cancellationToken);

    /// <summary>Bytes after the client's end frame: JSON again, for the session's reader.</summary>
    void Unread(ReadOnlyMemory<byte> rest);
}

/// <summary>
/// One <c>__com.qemuguest_guest-file-bulk</c> carried by the relay (docs/relay.md, "Binary bulk
/// mode"). While it is open the VM channel serves nothing else. Frames of either side are read
/// with the one <see cref="BulkFrameReader"/> (the guest's by the link's reader, the client's
/// here), each checked whole before it is written on as a new frame; the count asked for bounds
/// their sum. A side that breaks a rule ends the transfer: the other side gets a clean end
/// (the client an end frame and a named error, the guest an end frame) and the channel resyncs.
/// </summary>
internal sealed class BulkRelay
{
    private readonly object _clientGate = new();
    private readonly TaskCompletionSource _clientAccepted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _pumpDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TimeSpan _writeTimeout;
    private byte[]? _frame;
    private long _bytes;
    private uint _frames;
    private bool _guestEnded;
    private bool _clientClosed;
    private long _lastActivity = Stopwatch.GetTimestamp();
    private volatile string? _guestFailure;
    private volatile string? _clientFailure;

    public BulkRelay(bool write, long count, IBulkClient client, TimeSpan writeTimeout)
    {
        IsWrite = write;
        Count = count;
        Client = client;
        _writeTimeout = writeTimeout;
        if (!write)
        {
            _pumpDone.SetResult();
        }
    }

    public bool IsWrite { get; }

    public long Count { get; }

    public IBulkClient Client { get; }

    /// <summary>The expectation of the accepting (or refusing) reply.</summary>
    public Expectation? Accept { get; set; }

    /// <summary>The expectation of the second reply, installed by the reader when the guest accepted.</summary>
    public Expectation? Final { get; set; }

    /// <summary>The negotiated max-frame-bytes; 0 when the guest announced none within our bound.</summary>
    public int MaxFrame { get; set; }

    public GuestConnection? Connection { get; set; }

    /// <summary>The reply the client gets at the end (set by the channel).</summary>
    public TaskCompletionSource<GuestOutcome> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Write direction: the client's frames are all passed on (or refused).</summary>
    public Task PumpDone => _pumpDone.Task;

    /// <summary>What the guest did wrong, if it broke a rule (named in the client's error).</summary>
    public string? GuestFailure => _guestFailure;

    /// <summary>What the client did wrong, or that it went away.</summary>
    public string? ClientFailure => _clientFailure;

    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Read direction: the guest's end frame arrived.</summary>
    public bool GuestEnded
    {
        get
        {
            lock (_clientGate)
            {
                return _guestEnded;
            }
        }
    }

    public TimeSpan Quiet => Stopwatch.GetElapsedTime(Volatile.Read(ref _lastActivity));

    public void Touch() => Volatile.Write(ref _lastActivity, Stopwatch.GetTimestamp());

    /// <summary>The client has the accepting reply: frames may follow it.</summary>
    public void ClientHasAccept() => _clientAccepted.TrySetResult();

    public void SetGuestFailure(string problem) => _guestFailure ??= problem;

    /// <summary>The client cannot take frames (its connection failed): they are dropped, the transfer still ends cleanly on the guest's side.</summary>
    public void SetClientFailure(string problem) => _clientFailure ??= problem;

    /// <summary>A checked guest frame, on the reader's thread: null when passed on, else what was wrong.</summary>
    public string? ForwardGuestFrame(ReadOnlySpan<byte> payload, RelayCounters counters)
    {
        Touch();
        if (_bytes + payload.Length > Count)
        {
            return "frames carry more than the " + Count.ToString(CultureInfo.InvariantCulture) + " bytes asked for (" + (_bytes + payload.Length).ToString(CultureInfo.InvariantCulture) + " by frame " + _frames.ToString(CultureInfo.InvariantCulture) + ")";
        }

        if (!_clientAccepted.Task.Wait(_writeTimeout))
        {
            _clientFailure ??= "the client did not take the accepting reply in time";
            return null;
        }

        lock (_clientGate)
        {
            if (_clientClosed || _clientFailure is not null)
            {
                return null;
            }

            _frame ??= GC.AllocateUninitializedArray<byte>(BulkFrame.HeaderBytes + MaxFrame);
            BulkFrame.WriteHeader(_frame, payload, _frames);
            payload.CopyTo(_frame.AsSpan(BulkFrame.HeaderBytes));
            if (!Client.WriteBlocking(new ReadOnlyMemory<byte>(_frame, 0, BulkFrame.HeaderBytes + payload.Length)))
            {
                _clientFailure = "the client stopped taking frames";
                return null;
            }

            _frames++;
            _bytes += payload.Length;
        }

        RelayCounters.Inc(ref counters.BulkFramesFromGuest);
        RelayCounters.Add(ref counters.BulkBytesFromGuest, payload.Length);
        return null;
    }

    /// <summary>The guest's end frame, on the reader's thread: passed on as the client's end frame.</summary>
    public void ForwardGuestEnd()
    {
        Touch();
        lock (_clientGate)
        {
            _guestEnded = true;
            if (!_clientClosed && _clientFailure is null && _clientAccepted.Task.IsCompleted)
            {
                WriteEndToClient();
                _clientClosed = true;
            }

            // Else the client may not have the accepting reply yet: a read with no frames (at the
            // end of the file) brings the guest's acceptance, end frame and second reply in one
            // read. CloseClientFrames then writes the end frame after the accepting reply; closed
            // here, the client got its accepting and second reply with no end frame between.
        }
    }

    /// <summary>
    /// Before the final reply goes to the client: no more frames to it, and if the guest's end
    /// frame was not passed on, an end frame of our own, so the client reads the reply as JSON.
    /// </summary>
    public void CloseClientFrames()
    {
        lock (_clientGate)
        {
            if (!IsWrite && !_clientClosed && _clientFailure is null && _clientAccepted.Task.IsCompleted)
            {
                WriteEndToClient();
            }

            _clientClosed = true;
        }
    }

    /// <summary>
    /// The write direction, on the client session: the client's frames, checked, written to the
    /// guest as new frames; an end frame to the guest however it ends, so the guest's side ends
    /// at a frame boundary. Silence from the client is bounded by <paramref name="idle"/>.
    /// </summary>
    public async Task PumpClientFramesAsync(TimeSpan idle, RelayCounters counters, CancellationToken cancellationToken)
    {
        var guest = Connection!;
        byte[] frame = GC.AllocateUninitializedArray<byte>(BulkFrame.HeaderBytes + MaxFrame);
        using var reader = new BulkFrameReader(MaxFrame);
        uint sent = 0;
        long bytes = 0;
        bool guestOpen = true;
        try
        {
            while (true)
            {
                ReadOnlyMemory<byte> input;
                using (var quiet = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    quiet.CancelAfter(idle);
                    try
                    {
                        input = await Client.ReadAsync(quiet.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        _clientFailure ??= "no byte from the client for " + idle.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s inside the transfer";
                        break;
                    }
                    catch (Exception e) when (e is System.IO.IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
                    {
                        _clientFailure ??= "the client's connection failed inside the transfer (" + e.Message + ")";
                        break;
                    }
                }

                if (input.IsEmpty)
                {
                    _clientFailure ??= "the client closed its connection inside the transfer";
                    break;
                }

                Touch();
                while (!input.IsEmpty)
                {
                    BulkFrameKind kind = reader.Read(input.Span, out int used);
                    input = input.Slice(used);
                    if (kind == BulkFrameKind.None)
                    {
                        continue;
                    }

                    if (kind == BulkFrameKind.Data)
                    {
                        ReadOnlyMemory<byte> payload = reader.Payload;
                        if (bytes + payload.Length > Count)
                        {
                            _clientFailure ??= "frames carry more than the " + Count.ToString(CultureInfo.InvariantCulture) + " bytes asked for";
                            return;
                        }

                        bytes += payload.Length;
                        if (guestOpen && Final is { Task.IsCompleted: false })
                        {
                            BulkFrame.WriteHeader(frame, payload.Span, sent);
                            payload.Span.CopyTo(frame.AsSpan(BulkFrame.HeaderBytes));
                            guestOpen = await WriteGuestAsync(guest, new ReadOnlyMemory<byte>(frame, 0, BulkFrame.HeaderBytes + payload.Length), cancellationToken).ConfigureAwait(false);
                            sent++;
                            Interlocked.Exchange(ref _bytes, bytes);
                            RelayCounters.Inc(ref counters.BulkFramesToGuest);
                            RelayCounters.Add(ref counters.BulkBytesToGuest, payload.Length);
                        }

                        continue;
                    }

                    if (kind == BulkFrameKind.End)
                    {
                        Client.Unread(input);
                        return;
                    }

                    _clientFailure ??= kind == BulkFrameKind.NotAFrame
                        ? "byte 0x" + input.Span[0].ToString("X2", CultureInfo.InvariantCulture) + " where bulk frame " + reader.Frames.ToString(CultureInfo.InvariantCulture) + " or the end frame belongs"
                        : reader.Error!;
                    return;
                }
            }
        }
        finally
        {
            if (guestOpen && Final is { Task.IsCompleted: false })
            {
                // The guest hears a clean end at a frame boundary whatever the client did; its
                // reply (an error when bytes are missing) comes back as JSON.
                BulkFrame.WriteHeader(frame, ReadOnlySpan<byte>.Empty, sent);
                await WriteGuestAsync(guest, new ReadOnlyMemory<byte>(frame, 0, BulkFrame.HeaderBytes), cancellationToken).ConfigureAwait(false);
            }

            _pumpDone.TrySetResult();
        }
    }

    private static async Task<bool> WriteGuestAsync(GuestConnection guest, ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        try
        {
            await guest.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (GuestChannelException)
        {
            // The link is closed: the final expectation fails with it; the client's frames are drained.
            return false;
        }
    }

    private void WriteEndToClient()
    {
        Span<byte> end = stackalloc byte[BulkFrame.HeaderBytes];
        BulkFrame.WriteHeader(end, ReadOnlySpan<byte>.Empty, _frames);
        if (!Client.WriteBlocking(end.ToArray()))
        {
            _clientFailure ??= "the client stopped taking frames";
        }
    }
}

/// <summary>The named error of a refused bulk frame (ErrorId BulkFrameRejected on the client side, mark bad-frame).</summary>
internal static class BulkRelayTexts
{
    public const string Name = "BulkFrameRejected";

    public static string GuestFrame(string command, string problem) =>
        command + ": " + Name + ": a bulk frame from the guest agent broke a rule (" + GuestText.Printable(problem) + "); the transfer was ended and the channel resynchronised";

    public static string ClientFrame(string command, string problem) =>
        command + ": " + Name + ": a bulk frame from this client broke a rule (" + problem + "); the transfer was ended and the channel resynchronised";
}

using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Qga;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Protocol.Processes;

/// <summary>
/// A guest program's standard input and output as one duplex <see cref="Stream"/>, carried by
/// our agent's streaming exec extension: writes become exec-write, reads exec-read (long-polled),
/// dispose closes input, kills the program's process group and collects its exit. PowerShell
/// Direct runs PowerShell's remoting protocol over it (QemuGuest.Remoting); it knows nothing of
/// PowerShell itself. Everything the guest sends is bounded: one read returns at most
/// <see cref="ReadBlockBytes"/>, standard error is kept only up to <see cref="MaxKeptErrorBytes"/>.
/// </summary>
public sealed class GuestStdioStream : Stream
{
    /// <summary>The most decoded bytes asked for per exec-read.</summary>
    public const int ReadBlockBytes = 256 * 1024;

    /// <summary>Standard error is only kept to explain an end: its first bytes are enough.</summary>
    public const int MaxKeptErrorBytes = 16 * 1024;

    // The agent (and the relay in front of it) serves one request at a time: a read held open
    // in the agent holds back our own writes, and a PowerShell round trip is several writes each
    // waiting for an answer (traced: every write sat behind a poll). So reads never wait in the
    // agent; a quiet spell is waited out here instead, where a write ends it. The wait starts
    // short, because an answer is due soon after a write, and grows to MaxQuietMs while the
    // program stays quiet: that bounds both the latency of output and the polls of an idle session.
    // After LongQuiet without output or a write the session is idle (a PSSession between
    // commands): the wait grows to MaxIdleQuietMs, 1 poll a second instead of 5; a write still
    // ends it at once, so only output the guest sends unasked after a long silence waits longer.
    private const int MinQuietMs = 2;
    private const int MaxQuietMs = 200;
    private const int MaxIdleQuietMs = 1000;
    private static readonly TimeSpan LongQuiet = TimeSpan.FromSeconds(5);

    // A queue the program does not drain: a write retries this long before it gives up.
    private static readonly TimeSpan StalledWriteLimit = TimeSpan.FromMinutes(2);

    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    private readonly GuestAgentCommands _commands;
    private readonly QgaCallOptions _options;
    private readonly object _writeGate = new();
    private readonly SemaphoreSlim _readGate = new(1, 1);
    private readonly SemaphoreSlim _wrote = new(0, 1);
    private readonly MemoryStream _stderr = new();
    private byte[] _pending = Array.Empty<byte>();
    private int _pendingOffset;
    private int _quietMs;
    private long _lastActivity = System.Diagnostics.Stopwatch.GetTimestamp();
    private int _disposed;
    private IDisposable? _owner;
    private volatile bool _exited;

    private GuestStdioStream(GuestAgentCommands commands, QgaCallOptions options, long pid, string targetName, string program)
    {
        _commands = commands;
        _options = options;
        Pid = pid;
        TargetName = targetName;
        Program = program;
    }

    /// <summary>The guest program's process id.</summary>
    public long Pid { get; }

    /// <summary>The VM (session) name, for messages.</summary>
    public string TargetName { get; }

    /// <summary>The program that was started, for messages.</summary>
    public string Program { get; }

    /// <summary>The exit code, once the program ended normally.</summary>
    public long? ExitCode { get; private set; }

    /// <summary>The terminating signal, once the program was killed.</summary>
    public long? Signal { get; private set; }

    /// <summary>True once the agent reported the program's end.</summary>
    public bool HasExited => _exited;

    /// <summary>The first <see cref="MaxKeptErrorBytes"/> of standard error, made printable.</summary>
    public string StandardErrorText
    {
        get
        {
            lock (_stderr)
            {
                return GuestText.Printable(Encoding.UTF8.GetString(_stderr.GetBuffer(), 0, (int)_stderr.Length));
            }
        }
    }

    /// <summary>How the program ended, in words, for errors that report the end.</summary>
    public string DescribeEnd()
    {
        string how = Signal is long s ? "was killed by signal " + s : ExitCode is long c ? "exited with code " + c : "ended";
        string err = StandardErrorText;
        return Program + " (pid " + Pid + ") in " + TargetName + " " + how + (err.Length > 0 ? ": " + err.Trim() : ".");
    }

    /// <summary>
    /// Starts <paramref name="program"/> with streamed input and output. An agent without the
    /// streaming extension (any stock qemu-ga) is <see cref="GuestProcessFailureKind.AgentFeatureUnavailable"/>
    /// naming the missing command, before anything runs in the guest. <paramref name="owner"/>
    /// (the connection this stream alone uses, or null) is disposed with the stream.
    /// </summary>
    public static async Task<GuestStdioStream> StartAsync(IGuestAgentChannel channel, GuestSessionFacts facts, QgaCallOptions options, string targetName, string program, IReadOnlyList<string> arguments, IDisposable? owner, CancellationToken cancellationToken)
    {
        AgentProfile profile = await facts.GetProfileAsync(channel, options, cancellationToken).ConfigureAwait(false);
        foreach (string needed in new[] { AgentProfile.ExecWrite, AgentProfile.ExecStart, AgentProfile.ExecRead, AgentProfile.ExecKill })
        {
            if (!profile.Has(needed))
            {
                throw new GuestProcessException(GuestProcessFailureKind.AgentFeatureUnavailable,
                    "The agent in " + targetName + " does not offer " + needed + " (streamed standard input and output of a guest program), which this needs: run QemuGuest's agent in the guest"
                    + (profile.IsOurs ? " and allow exec in its policy." : " (a stock qemu-ga cannot stream standard input)."),
                    targetName);
            }
        }

        var commands = new GuestAgentCommands(channel);
        GuestExec started = await commands.GuestExecStartAsync(program, arguments, null, null, GuestExecCaptureOutputMode.Separated, null, null,
            streamOutput: true, inheritEnv: true, streamInput: true, options, cancellationToken).ConfigureAwait(false);
        return new GuestStdioStream(commands, options, started.Pid, targetName, program) { _owner = owner };
    }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>Blocks until the program wrote something or ended (0 = end of output).</summary>
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        await _readGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            while (_pendingOffset >= _pending.Length)
            {
                if (_exited || Volatile.Read(ref _disposed) != 0)
                {
                    return 0;
                }

                _pending = await ReadOnceAsync(0, _options, cancellationToken).ConfigureAwait(false);
                _pendingOffset = 0;
                if (_pending.Length > 0 || _exited)
                {
                    _quietMs = 0;
                    Volatile.Write(ref _lastActivity, System.Diagnostics.Stopwatch.GetTimestamp());
                }
                else
                {
                    long quietTicks = System.Diagnostics.Stopwatch.GetTimestamp() - Volatile.Read(ref _lastActivity);
                    int cap = quietTicks < LongQuiet.TotalSeconds * System.Diagnostics.Stopwatch.Frequency ? MaxQuietMs : MaxIdleQuietMs;
                    _quietMs = Math.Min(cap, Math.Max(MinQuietMs, _quietMs * 2));
                    await _wrote.WaitAsync(_quietMs, cancellationToken).ConfigureAwait(false);
                }
            }

            int n = Math.Min(count, _pending.Length - _pendingOffset);
            Buffer.BlockCopy(_pending, _pendingOffset, buffer, offset, n);
            _pendingOffset += n;
            return n;
        }
        finally
        {
            _readGate.Release();
        }
    }

    // One exec-read: keeps standard error, notes the exit, returns standard output.
    private async Task<byte[]> ReadOnceAsync(int waitMs, QgaCallOptions options, CancellationToken cancellationToken)
    {
        GuestExecOutput o = await _commands.GuestExecReadAsync(Pid, ReadBlockBytes, waitMs, options, cancellationToken).ConfigureAwait(false);
        if (o.ErrData is string err)
        {
            KeepError(FromBase64(err, "err-data"));
        }

        if (o.Exited)
        {
            ExitCode = o.Exitcode;
            Signal = o.Signal;
            _exited = true;
        }

        return o.OutData is string data ? FromBase64(data, "out-data") : Array.Empty<byte>();
    }

    // A write refused because the program ended: learn how it ended (bounded), for the error.
    // Its unread output is dropped: the conversation is over.
    private void CollectEnd()
    {
        var bounded = new QgaCallOptions { Timeout = StopTimeout };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        if (!_readGate.Wait(StopTimeout))
        {
            return;
        }

        try
        {
            while (!_exited && clock.Elapsed < StopTimeout)
            {
                ReadOnceAsync(200, bounded, CancellationToken.None).GetAwaiter().GetResult();
            }
        }
        catch (Exception ex) when (ex is QgaException or IOException or TimeoutException or OperationCanceledException or ObjectDisposedException)
        {
            // The link is down or the exit was read elsewhere: the end stays undescribed.
        }
        finally
        {
            _readGate.Release();
        }
    }

    /// <summary>Hands all of the bytes to the agent, retrying the part its input queue had no room for.</summary>
    public override void Write(byte[] buffer, int offset, int count)
    {
        lock (_writeGate)
        {
            DateTime stalledSince = DateTime.UtcNow;
            while (count > 0)
            {
                if (_exited)
                {
                    throw new IOException(DescribeEnd());
                }

                GuestExecWrite w;
                try
                {
                    w = _commands.GuestExecWriteAsync(Pid, Convert.ToBase64String(buffer, offset, count), null, _options, CancellationToken.None).GetAwaiter().GetResult();
                }
                catch (QgaGenericErrorException ex)
                {
                    // The program ended (or closed its input): say how, not the agent's words.
                    CollectEnd();
                    throw new IOException(_exited ? DescribeEnd() : Program + " (pid " + Pid + ") in " + TargetName + " takes no more input: " + ex.Description, ex);
                }

                int taken = (int)Math.Max(0, Math.Min(w.Count, count));
                offset += taken;
                count -= taken;
                if (taken > 0)
                {
                    stalledSince = DateTime.UtcNow;
                    WakeReader();
                }
                else if (DateTime.UtcNow - stalledSince > StalledWriteLimit)
                {
                    throw new IOException(Program + " (pid " + Pid + ") in " + TargetName + " has not read its input for " + StalledWriteLimit.TotalMinutes + " minutes.");
                }
                else
                {
                    Thread.Sleep(50);
                }
            }
        }
    }

    // An answer to what was written is due: the reader polls now instead of waiting out its quiet spell.
    private void WakeReader()
    {
        _quietMs = 0;
        lock (_wrote)
        {
            Volatile.Write(ref _lastActivity, System.Diagnostics.Stopwatch.GetTimestamp());
            if (Volatile.Read(ref _disposed) == 0 && _wrote.CurrentCount == 0)
            {
                _wrote.Release();
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            if (!_exited)
            {
                Stop();
            }

            _owner?.Dispose();

            // Under the read gate no reader is waiting on _wrote, and a later one returns 0
            // before it would (it sees _disposed); a late write's wake-up sees it too.
            if (_readGate.Wait(StopTimeout))
            {
                lock (_wrote)
                {
                    _wrote.Dispose();
                }

                _readGate.Release();
            }
        }

        base.Dispose(disposing);
    }

    // Closing input lets a server end by itself; the kill makes sure nothing is left behind.
    // Both are bounded: a dead link must not hold up Remove-PSSession.
    private void Stop()
    {
        var bounded = new QgaCallOptions { Timeout = StopTimeout };
        try
        {
            _commands.GuestExecWriteAsync(Pid, string.Empty, true, bounded, CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is QgaException or IOException or TimeoutException or OperationCanceledException or ObjectDisposedException)
        {
        }

        try
        {
            _commands.GuestExecKillAsync(Pid, 9, true, bounded, CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is QgaException or IOException or TimeoutException or OperationCanceledException or ObjectDisposedException)
        {
            // Already gone (its exit was read) or the link is down: nothing more can be done here.
        }

        // The agent keeps an ended program until its exit is read: read it, so none is left.
        CollectEnd();
    }

    private static byte[] FromBase64(string text, string member)
    {
        try
        {
            return Convert.FromBase64String(text);
        }
        catch (FormatException ex)
        {
            throw new QgaProtocolException(AgentProfile.ExecRead, AgentProfile.ExecRead + ": '" + member + "' is not base64.", ex);
        }
    }

    private void KeepError(byte[] bytes)
    {
        lock (_stderr)
        {
            int room = MaxKeptErrorBytes - (int)_stderr.Length;
            if (room > 0)
            {
                _stderr.Write(bytes, 0, Math.Min(room, bytes.Length));
            }
        }
    }
}

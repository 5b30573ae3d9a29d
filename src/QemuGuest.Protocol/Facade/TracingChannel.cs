using System;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Client;

namespace QemuGuest.Protocol.Facade;

/// <summary>
/// A trace of the calls made through a channel (the cmdlets' -Verbose): each command by name (never its arguments, which
/// may hold a password or file data), whether the connection must first be (re)made and synced,
/// and how it ended with its time. The cmdlets use it only when verbose output is wanted: a
/// copy makes thousands of calls, and each trace line waits its turn on the pipeline thread.
/// It lives here, beside the channel it wraps, because the cmdlets' assembly cannot implement
/// this interface: its JsonElement is the module's private System.Text.Json, not PowerShell's.
/// </summary>
public sealed class TracingChannel : IGuestAgentBulkChannel
{
    private readonly IGuestAgentChannel _inner;
    private readonly Action<string> _trace;
    private readonly string _target;

    public TracingChannel(IGuestAgentChannel inner, Action<string> trace, string target)
    {
        _inner = inner ?? throw new ArgumentNullException(nameof(inner));
        _trace = trace ?? throw new ArgumentNullException(nameof(trace));
        _target = target ?? throw new ArgumentNullException(nameof(target));
    }

    public async Task<JsonElement> ExecuteAsync(string command, IQgaArguments? arguments, QgaCallOptions? options, CancellationToken cancellationToken)
    {
        Stopwatch clock = Begin(command);
        try
        {
            JsonElement reply = await _inner.ExecuteAsync(command, arguments, options, cancellationToken).ConfigureAwait(false);
            End(command, clock, null);
            return reply;
        }
        catch (Exception ex)
        {
            End(command, clock, ex);
            throw;
        }
    }

    public async Task ExecuteWithoutResponseAsync(string command, IQgaArguments? arguments, QgaCallOptions? options, CancellationToken cancellationToken)
    {
        Stopwatch clock = Begin(command);
        try
        {
            await _inner.ExecuteWithoutResponseAsync(command, arguments, options, cancellationToken).ConfigureAwait(false);
            End(command, clock, null);
        }
        catch (Exception ex)
        {
            End(command, clock, ex);
            throw;
        }
    }

    public Task<GuestBulkResult> WriteBulkAsync(long handle, long count, Func<byte[], int, int, Task<int>> fill, TimeSpan idleTimeout, CancellationToken cancellationToken) =>
        TraceBulkAsync(bulk => bulk.WriteBulkAsync(handle, count, fill, idleTimeout, cancellationToken));

    public Task<GuestBulkResult> ReadBulkAsync(long handle, long count, Action<byte[], int, int> sink, TimeSpan idleTimeout, CancellationToken cancellationToken) =>
        TraceBulkAsync(bulk => bulk.ReadBulkAsync(handle, count, sink, idleTimeout, cancellationToken));

    private async Task<GuestBulkResult> TraceBulkAsync(Func<IGuestAgentBulkChannel, Task<GuestBulkResult>> run)
    {
        const string command = GuestAgentClient.BulkCommand;
        if (_inner is not IGuestAgentBulkChannel bulk)
        {
            // Refused as an older relay refused it: the caller falls back to guest-file-read/write.
            var refused = new QgaCommandException(command, "CommandNotFound", "this channel does not carry bulk frames");
            refused.Data[GuestAgentBulk.RefusedKey] = true;
            throw refused;
        }

        Stopwatch clock = Begin(command);
        try
        {
            GuestBulkResult result = await run(bulk).ConfigureAwait(false);
            End(command, clock, null);
            return result;
        }
        catch (Exception ex)
        {
            End(command, clock, ex);
            throw;
        }
    }

    private Stopwatch Begin(string command)
    {
        string before = (_inner as GuestAgentClient)?.State switch
        {
            GuestAgentClientState.Disconnected => " (connecting, then syncing: 0xFF + guest-sync-delimited, first)",
            GuestAgentClientState.OutOfStep => " (syncing first: 0xFF + guest-sync-delimited)",
            _ => string.Empty,
        };
        _trace(_target + ": " + command + before);
        return Stopwatch.StartNew();
    }

    private void End(string command, Stopwatch clock, Exception? failure)
    {
        string ms = clock.ElapsedMilliseconds.ToString(CultureInfo.InvariantCulture);
        _trace(failure is null
            ? _target + ": " + command + " answered in " + ms + " ms"
            : _target + ": " + command + " failed after " + ms + " ms: " + GuestText.Printable(failure.Message, multiline: false));
    }
}

using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using QemuGuest.Agent.Channels;
using QemuGuest.Agent.Configuration;
using QemuGuest.Agent.Core;
using QemuGuest.Protocol.Framing;
using QemuGuest.Protocol.Marshalling;

namespace QemuGuest.Agent.Hosting;

/// <summary>
/// The thin service loop: open the channel, take one connection at a time, frame its bytes
/// with the shared <see cref="JsonMessageReader"/>, hand each request to the
/// <see cref="RequestProcessor"/> (which isolates every command), write the reply with the
/// shared <see cref="JsonMessageWriter"/>. Requests run strictly in order, one at a time,
/// like the stock agent. With -r a missing or broken channel is retried with exponential
/// back-off (1 s doubling to 30 s) and only attempts 1, 2, 4, 8, ... are logged. The loop
/// ending (stop requested, or the channel unavailable without -r) ends the agent: see
/// <see cref="AgentHost"/>.
/// </summary>
public sealed class AgentService : IDisposable
{
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);
    private const int LargeReplyBytes = 1024 * 1024;
    private readonly AgentConfig _config;
    private readonly Func<IAgentChannel> _channelFactory;
    private readonly RequestProcessor _processor;
    private readonly ILogger<AgentService> _logger;
    // Limits recover as in qemu-ga (what is left of a refused message is read as new input), so
    // a client sees the same replies, in the same number, from either agent.
    private readonly JsonMessageReader _reader = new(JsonMessageReader.QemuMaxTokenBytes, recovery: JsonLimitRecovery.LikeQemu);
    private readonly JsonMessageWriter _writer = new();
    private readonly IdleMemoryTrim _trim = new(BoundedBufferPool.Shared.Trim);
    private readonly AgentBulk _bulk = new();

    public AgentService(AgentConfig config, Func<IAgentChannel> channelFactory, RequestProcessor processor, ILogger<AgentService> logger)
    {
        _config = config;
        _channelFactory = channelFactory;
        _processor = processor;
        _logger = logger;
    }

    /// <summary>Set when the agent must exit non-zero (channel unavailable without -r).</summary>
    public static int ExitCode { get; set; }

    /// <summary>Serves the channel until <paramref name="stoppingToken"/> fires or the channel is unavailable without -r.</summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        int attempt = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            IAgentChannel? channel = null;
            try
            {
                channel = _channelFactory();
                channel.Open();
                AgentLog.ChannelOpened(_logger, _config.Method ?? string.Empty, channel.Description);
                attempt = 0;
                while (!stoppingToken.IsCancellationRequested)
                {
                    AgentConnection connection = await channel.AcceptAsync(stoppingToken).ConfigureAwait(false);
                    await using (connection.ConfigureAwait(false))
                    {
                        await RunSessionAsync(connection, stoppingToken).ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is AgentChannelException or IOException)
            {
                if (!_config.RetryPath)
                {
                    AgentLog.ChannelUnavailable(_logger, _config.ChannelPath ?? _config.Method ?? string.Empty, ex.Message);
                    ExitCode = 1;
                    return;
                }

                attempt++;
                TimeSpan delay = TimeSpan.FromSeconds(Math.Min(MaxRetryDelay.TotalSeconds, Math.Pow(2, Math.Min(attempt - 1, 10))));
                if ((attempt & (attempt - 1)) == 0)
                {
                    AgentLog.ChannelRetrying(_logger, _config.ChannelPath ?? string.Empty, attempt, delay);
                }

                try
                {
                    await Task.Delay(delay, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
            finally
            {
                if (channel is not null)
                {
                    await channel.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>
    /// One client (or the device). A socket client gets a fresh parser: unlike the stock agent,
    /// a half-sent request from a previous client does not swallow the next client's requests.
    /// A device keeps its parser (there is no "connection" to see), and a 0-byte read on it
    /// means "host side not connected": wait 100 ms and read again, as qemu-ga does.
    /// </summary>
    internal async Task RunSessionAsync(AgentConnection connection, CancellationToken stoppingToken)
    {
        if (!connection.IsDevice)
        {
            // A transfer of the previous client is over with it.
            _bulk.Dispose();
            _reader.Reset();
            AgentLog.ClientConnected(_logger);
        }

        byte[] buffer = new byte[64 * 1024];

        // The silence bound of a bulk transfer runs from the last byte that came, not from the
        // last read: a device whose host side closed answers every read at once with 0 bytes.
        long lastBytes = Stopwatch.GetTimestamp();
        while (!stoppingToken.IsCancellationRequested)
        {
            int n;
            bool bulk = _bulk.Active;
            byte[] into = bulk ? _bulk.ReadBuffer : buffer;
            try
            {
                n = bulk
                    ? await ReadBulkAsync(connection, into, BulkSlot.IdleTimeout - Stopwatch.GetElapsedTime(lastBytes), stoppingToken).ConfigureAwait(false)
                    : await connection.Stream.ReadAsync(into, stoppingToken).ConfigureAwait(false);
            }
            catch (IOException ex) when (!connection.IsDevice)
            {
                AgentLog.ChannelReadFailed(_logger, ex);
                return;
            }

            if (n < 0)
            {
                // Frames stopped coming: the transfer fails and the loop is back to JSON.
                if (!await SendAsync(connection, _bulk.TimedOut(_writer), stoppingToken).ConfigureAwait(false))
                {
                    return;
                }

                _bulk.Release();
                lastBytes = Stopwatch.GetTimestamp();
                continue;
            }

            if (n == 0)
            {
                if (connection.IsDevice)
                {
                    await Task.Delay(100, stoppingToken).ConfigureAwait(false);
                    continue;
                }

                AgentLog.ClientDisconnected(_logger);
                return;
            }

            lastBytes = Stopwatch.GetTimestamp();
            _trim.RequestStarted();
            bool keepGoing = await AnswerAsync(connection, into.AsMemory(0, n), stoppingToken).ConfigureAwait(false);
            _bulk.Release();

            // Everything read is answered: the reader and writer may drop buffers a large
            // message grew, instead of holding them until the next request.
            _reader.ReleaseLargeBuffer();
            _writer.ReleaseLargeBuffer();
            _trim.RequestsDone();
            if (!keepGoing)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Frames and answers one chunk of input; false when the client is gone. A method of its
    /// own so that the frame and reply it holds across awaits die with it: hoisted into the
    /// session's state machine they kept a 48 MiB read's 128 MiB reply buffer alive while idle.
    /// </summary>
    private async ValueTask<bool> AnswerAsync(AgentConnection connection, ReadOnlyMemory<byte> input, CancellationToken stoppingToken)
    {
        while (!input.IsEmpty)
        {
            ReadOnlyMemory<byte> reply;
            if (_bulk.Active)
            {
                int used = _bulk.Feed(input.Span, _writer, out reply);
                input = input.Slice(used);
            }
            else
            {
                JsonFrame frame = _reader.Read(input, out int consumed);
                input = input.Slice(consumed);
                switch (frame.Kind)
                {
                    case JsonFrameKind.None:
                        continue;
                    case JsonFrameKind.Message:
                        reply = await _processor.ProcessAsync(frame.Message, _writer, stoppingToken).ConfigureAwait(false);
                        break;
                    default:
                        AgentLog.StrayInput(_logger, frame.ToString());
                        reply = RequestProcessor.FramingError(frame, _writer);
                        break;
                }
            }

            if (reply.IsEmpty)
            {
                continue;
            }

            if (!await SendAsync(connection, reply, stoppingToken).ConfigureAwait(false))
            {
                return false;
            }

            // A bulk transfer starts once its accepting reply is on the wire.
            if (_processor.Bulk.Take() is { } transfer)
            {
                if (transfer.Write)
                {
                    _bulk.Begin(transfer);
                }
                else
                {
                    try
                    {
                        await _bulk.SendAsync(connection.Stream, transfer, _writer, stoppingToken).ConfigureAwait(false);
                    }
                    catch (IOException ex)
                    {
                        AgentLog.ChannelWriteFailed(_logger, ex);
                        if (!connection.IsDevice)
                        {
                            return false;
                        }
                    }
                }
            }
        }

        return true;
    }

    /// <summary>A read while frames are due: -1 when the silence bound (<paramref name="left"/> of it remains) ran out.</summary>
    private static async ValueTask<int> ReadBulkAsync(AgentConnection connection, byte[] into, TimeSpan left, CancellationToken stoppingToken)
    {
        if (left <= TimeSpan.Zero)
        {
            return -1;
        }

        if (connection.Stream is ITimedReadStream timed)
        {
            return await timed.ReadAsync(into, left, stoppingToken).ConfigureAwait(false);
        }

        using var idle = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        idle.CancelAfter(left);
        try
        {
            return await connection.Stream.ReadAsync(into, idle.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            return -1;
        }
    }

    /// <summary>Writes one reply; false when the client is gone.</summary>
    private async ValueTask<bool> SendAsync(AgentConnection connection, ReadOnlyMemory<byte> reply, CancellationToken stoppingToken)
    {
        if (reply.IsEmpty)
        {
            return true;
        }

        try
        {
            await connection.Stream.WriteAsync(reply, stoppingToken).ConfigureAwait(false);
            if (reply.Length > LargeReplyBytes)
            {
                // A socket keeps the last buffer it sent until the next send: an empty one
                // makes it let go of a large reply's buffer (128 MiB after a 48 MiB read),
                // which would otherwise stay alive for as long as the agent sits idle.
                await connection.Stream.WriteAsync(ReadOnlyMemory<byte>.Empty, stoppingToken).ConfigureAwait(false);
            }

            await connection.Stream.FlushAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            AgentLog.ChannelWriteFailed(_logger, ex);
            if (!connection.IsDevice)
            {
                return false;
            }
        }

        return true;
    }

    public void Dispose()
    {
        _trim.Dispose();
        _bulk.Dispose();
        _reader.Dispose();
        _writer.Dispose();
    }
}

using System;
using System.IO;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using QemuGuest.Protocol.Framing;
using QemuGuest.Protocol.Transports;
using QemuGuest.Relay.Configuration;
using QemuGuest.Relay.Guest;
using QemuGuest.Relay.Wire;

namespace QemuGuest.Relay.Qmp;

/// <summary>
/// Follows whether the guest has the agent port open, from the VM's QMP monitor: query-chardev
/// (the agent chardev's "frontend-open") at connect and after every VSERPORT_CHANGE event, or
/// the event itself when the port's device id is configured. The VM channel then fails an
/// in-flight request at once when the port closes, and resyncs when it opens. It also follows
/// whether the VM runs (query-status, STOP / RESUME): requests are held while it is stopped,
/// and when this QEMU has handed the guest over to a migration's destination (status
/// 'postmigrate', or a MIGRATION event 'completed' where the events capability is on) the
/// channel reconnects at once. While the VM is stopped the status is asked again every
/// <see cref="StoppedPoll"/>, since without the migration events capability (libvirt sets it,
/// a plain QEMU does not) nothing else says the switch-over ended. A QMP socket serves one
/// client at a time: give the relay its own monitor (-qmp ...,server=on,wait=off).
/// </summary>
internal sealed class QmpWatcher : IAsyncDisposable
{
    private const int MaxQmpMessage = 1024 * 1024;

    private static readonly TimeSpan StoppedPoll = TimeSpan.FromMilliseconds(100);

    private readonly VmDefinition _vm;
    private readonly VmChannel _channel;
    private readonly LimitOptions _limits;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    private QmpWatcher(VmDefinition vm, VmChannel channel, LimitOptions limits, ILogger logger)
    {
        _vm = vm;
        _channel = channel;
        _limits = limits;
        _logger = logger;
    }

    public static QmpWatcher Start(VmDefinition vm, VmChannel channel, LimitOptions limits, ILogger logger)
    {
        var w = new QmpWatcher(vm, channel, limits, logger);
        w._loop = Task.Run(() => w.RunAsync(w._stop.Token));
        return w;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (Exception)
            {
            }
        }

        _stop.Dispose();
    }

    private async Task RunAsync(CancellationToken stop)
    {
        var delay = _limits.ReconnectInitial;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await SessionAsync(stop).ConfigureAwait(false);
                delay = _limits.ReconnectInitial;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                Log.QmpFailed(_logger, _vm.Name, e.Message);
            }

            try
            {
                await Task.Delay(delay, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _limits.ReconnectMax.Ticks));
        }
    }

    private async Task SessionAsync(CancellationToken stop)
    {
        Stream connected;
        using (var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(stop))
        {
            connectTimeout.CancelAfter(TimeSpan.FromSeconds(5));
            connected = await ConnectionString.Parse(_vm.Qmp!).CreateTransport().ConnectAsync(connectTimeout.Token).ConfigureAwait(false);
        }

        await using var stream = connected;
        using var reader = new JsonMessageReader(MaxQmpMessage, 64);
        using var writer = new JsonMessageWriter();
        var buffer = new byte[16 * 1024];
        bool greeted = false;
        bool capabilities = false;
        bool stopped = false;
        bool handedOver = false; // this QEMU's outgoing migration completed: it serves the guest no more

        async Task SendAsync(string command)
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(stop);
            cts.CancelAfter(_limits.WriteTimeout);
            await stream.WriteAsync(writer.WriteRequest(command, null, null), cts.Token).ConfigureAwait(false);
        }

        while (true)
        {
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(stop);
            if (!capabilities)
            {
                idle.CancelAfter(_limits.SyncTimeout);
            }
            else if (stopped && !handedOver)
            {
                idle.CancelAfter(StoppedPoll);
            }

            int n;
            try
            {
                n = await stream.ReadAsync(buffer, idle.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (capabilities && stopped && !handedOver && !stop.IsCancellationRequested)
            {
                await SendAsync("query-status").ConfigureAwait(false);
                continue;
            }

            if (n == 0)
            {
                throw new InvalidOperationException("QMP socket closed");
            }

            var input = new ReadOnlyMemory<byte>(buffer, 0, n);
            while (!input.IsEmpty)
            {
                var frame = reader.Read(input, out int consumed);
                input = input.Slice(consumed);
                if (frame.Kind != JsonFrameKind.Message)
                {
                    continue;
                }

                using var message = BoundedJson.TryParse(frame.Message.Span, 64, out _);
                if (message is null || message.Root.ValueKind != JsonValueKind.Object)
                {
                    continue;
                }

                var root = message.Root;
                if (!greeted && root.TryGetProperty("QMP", out _))
                {
                    greeted = true;
                    await SendAsync("qmp_capabilities").ConfigureAwait(false);
                }
                else if (!capabilities && root.TryGetProperty("return", out _))
                {
                    capabilities = true;
                    await SendAsync("query-chardev").ConfigureAwait(false);
                    await SendAsync("query-status").ConfigureAwait(false);
                }
                else if (root.TryGetProperty("return", out var ret) && ret.ValueKind == JsonValueKind.Array)
                {
                    OnChardevs(ret);
                }
                else if (ret.ValueKind == JsonValueKind.Object && ret.TryGetProperty("status", out var status) && status.ValueKind == JsonValueKind.String
                    && ret.TryGetProperty("running", out var running) && running.ValueKind is JsonValueKind.True or JsonValueKind.False)
                {
                    stopped = !running.GetBoolean();
                    handedOver |= OnStatus(status.GetString()!, stopped, "query-status", handedOver);
                }
                else if (root.TryGetProperty("event", out var runEvent) && (runEvent.ValueEquals("STOP") || runEvent.ValueEquals("RESUME")))
                {
                    stopped = runEvent.ValueEquals("STOP");
                    handedOver |= OnStatus(stopped ? "stopped" : "running", stopped, runEvent.GetString()!, handedOver);
                    if (stopped)
                    {
                        // Why it stopped (a pause, or a migration switching over) is in the status.
                        await SendAsync("query-status").ConfigureAwait(false);
                    }
                }
                else if (root.TryGetProperty("event", out var migration) && migration.ValueEquals("MIGRATION")
                    && root.TryGetProperty("data", out var migrationData) && migrationData.ValueKind == JsonValueKind.Object
                    && migrationData.TryGetProperty("status", out var migrationStatus) && migrationStatus.ValueEquals("completed"))
                {
                    if (!handedOver)
                    {
                        handedOver = true;
                        _channel.OnMigrated();
                    }
                }
                else if (root.TryGetProperty("event", out var ev) && ev.ValueEquals("VSERPORT_CHANGE"))
                {
                    if (_vm.QmpPort is not null && root.TryGetProperty("data", out var data)
                        && data.TryGetProperty("id", out var port) && port.ValueEquals(_vm.QmpPort)
                        && data.TryGetProperty("open", out var open) && open.ValueKind is JsonValueKind.True or JsonValueKind.False)
                    {
                        Log.QmpPortChange(_logger, _vm.Name, _vm.QmpPort, open.GetBoolean() ? "opened" : "closed");
                        _channel.OnPortChanged(open.GetBoolean());
                    }
                    else if (_vm.QmpPort is null)
                    {
                        await SendAsync("query-chardev").ConfigureAwait(false);
                    }
                }
            }
        }
    }

    /// <summary>Passes a run state on to the channel; true when this QEMU has handed the guest over.</summary>
    private bool OnStatus(string status, bool stopped, string source, bool handedOver)
    {
        if (handedOver)
        {
            // What the source says after the hand-over is about a process that no longer runs
            // the guest; the channel already follows the destination.
            return true;
        }

        if (_channel.Running != !stopped)
        {
            Log.QmpRunState(_logger, _vm.Name, Protocol.GuestText.Printable(status), source);
        }

        // 'postmigrate': this QEMU's part of a completed outgoing migration is over; the guest
        // runs in the destination process. ('finish-migrate' is the switch-over itself: hold.)
        if (status == "postmigrate")
        {
            _channel.OnMigrated();
            return true;
        }

        _channel.OnRunStateChanged(!stopped);
        return false;
    }

    private void OnChardevs(JsonElement list)
    {
        foreach (var c in list.EnumerateArray())
        {
            if (c.ValueKind == JsonValueKind.Object
                && c.TryGetProperty("filename", out var f) && f.ValueKind == JsonValueKind.String
                && f.GetString()!.Contains(_vm.Agent, StringComparison.Ordinal)
                && c.TryGetProperty("frontend-open", out var open) && open.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                bool isOpen = open.GetBoolean();
                if (_channel.PortOpen != isOpen)
                {
                    Log.QmpPortChange(_logger, _vm.Name, c.TryGetProperty("label", out var l) ? Protocol.GuestText.Printable(l.ToString()) : "?", isOpen ? "open" : "closed");
                    _channel.OnPortChanged(isOpen);
                }

                return;
            }
        }
    }
}

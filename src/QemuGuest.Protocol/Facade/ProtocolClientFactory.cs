using System;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Client;
using QemuGuest.Protocol.Transports;

namespace QemuGuest.Protocol.Facade;

/// <summary>
/// Opens a connected, synced client from a connection string, synchronously, for callers
/// without an async context (PowerShell cmdlets). Returns the channel and what to dispose.
/// </summary>
public static class ProtocolClientFactory
{
    public static (IGuestAgentChannel Channel, IDisposable Owner) Connect(string connectionString, TimeSpan connectTimeout, CancellationToken cancellationToken)
    {
        // Parse first: a malformed string is a FormatException naming the value, not a connect failure.
        var parsed = ConnectionString.Parse(connectionString);
        var options = new GuestAgentClientOptions
        {
            SyncTimeout = connectTimeout < TimeSpan.FromSeconds(5) ? connectTimeout : TimeSpan.FromSeconds(5),
            // Up to 4 requests on the wire: bulk transfers (Copy-VMGuestFile) keep the agent busy
            // while the next block is encoded; replies still arrive and are matched in order.
            MaxPipelineDepth = 4,
        };
        // The connect budget bounds every (re)connection of this session: a socket that is not
        // there yields QgaDisconnectedException within it, naming the endpoint and the last error.
        options.Reconnect.Deadline = connectTimeout;
        options.Reconnect.ConnectTimeout = connectTimeout < options.Reconnect.ConnectTimeout ? connectTimeout : options.Reconnect.ConnectTimeout;
        var client = new GuestAgentClient(parsed.CreateTransport(), options);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            // Connect budget + one sync, plus slack so the client's own, more specific error wins.
            timeout.CancelAfter(connectTimeout + options.SyncTimeout + TimeSpan.FromSeconds(2));
            Task.Run(() => client.ConnectAsync(timeout.Token), CancellationToken.None).GetAwaiter().GetResult();
            return (client, client);
        }
        catch (Exception ex) when ((ex is OperationCanceledException && !cancellationToken.IsCancellationRequested) || ex is QgaTimeoutException)
        {
            client.Dispose();
            throw new QgaDisconnectedException(null,
                $"The guest agent at {connectionString} accepted the connection but did not answer guest-sync within {(connectTimeout + options.SyncTimeout).TotalSeconds:0.#} s. " +
                "A QEMU chardev socket or a qemu-ga unix-listen socket serves one client at a time: close other sessions to it, or share it through the QemuGuest relay.");
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }
}

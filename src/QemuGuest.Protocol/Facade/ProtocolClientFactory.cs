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
        };
        // The first connection is tried within the caller's budget; later drops reconnect by the default policy.
        options.Reconnect.Deadline = connectTimeout > options.Reconnect.Deadline ? connectTimeout : options.Reconnect.Deadline;
        options.Reconnect.ConnectTimeout = connectTimeout < options.Reconnect.ConnectTimeout ? connectTimeout : options.Reconnect.ConnectTimeout;
        var client = new GuestAgentClient(parsed.CreateTransport(), options);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(connectTimeout);
            Task.Run(() => client.ConnectAsync(timeout.Token), CancellationToken.None).GetAwaiter().GetResult();
            return (client, client);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            client.Dispose();
            throw new QgaTimeoutException("guest-sync-delimited", connectTimeout);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }
}

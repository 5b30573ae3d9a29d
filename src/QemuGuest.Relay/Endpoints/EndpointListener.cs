using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Pipes;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using QemuGuest.Relay.Configuration;

namespace QemuGuest.Relay.Endpoints;

/// <summary>
/// Accepts management connections on one address (unix socket, TCP, or named pipe) and runs
/// a <see cref="ClientSession"/> for each, up to a client bound. Stopping closes the listener
/// and every session.
/// </summary>
internal sealed class EndpointListener : IAsyncDisposable
{
    private readonly IRequestHandler _handler;
    private readonly LimitOptions _limits;
    private readonly ILogger _logger;
    private readonly Action? _onAccepted;
    private readonly Action? _onRefused;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _sessions = new();
    private Socket? _socket;
    private Task? _acceptLoop;
    private int _clients;

    private EndpointListener(string display, IRequestHandler handler, LimitOptions limits, ILogger logger, Action? onAccepted, Action? onRefused)
    {
        Display = display;
        _handler = handler;
        _limits = limits;
        _logger = logger;
        _onAccepted = onAccepted;
        _onRefused = onRefused;
    }

    public string Display { get; }

    public int Clients => Volatile.Read(ref _clients);

    /// <summary>A unix socket at <paramref name="path"/>, mode 0600 (its directory is 0700, so there is no window).</summary>
    public static EndpointListener Unix(string path, IRequestHandler handler, LimitOptions limits, ILogger logger, Action? onAccepted = null, Action? onRefused = null)
    {
        var l = new EndpointListener(path, handler, limits, logger, onAccepted, onRefused);
        if (File.Exists(path) || Directory.Exists(path))
        {
            File.Delete(path);
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            socket.Listen(32);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        l._socket = socket;
        l._acceptLoop = Task.Run(l.AcceptSocketsAsync);
        return l;
    }

    public static EndpointListener Tcp(IPEndPoint endPoint, IRequestHandler handler, LimitOptions limits, ILogger logger, Action? onAccepted = null, Action? onRefused = null)
    {
        var l = new EndpointListener("tcp:" + endPoint, handler, limits, logger, onAccepted, onRefused);
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(endPoint);
            socket.Listen(32);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        l._socket = socket;
        l._acceptLoop = Task.Run(l.AcceptSocketsAsync);
        return l;
    }

    /// <summary>A named pipe \\.\pipe\NAME that only the relay's own user (the service account) may open.</summary>
    public static EndpointListener NamedPipe(string name, IRequestHandler handler, LimitOptions limits, ILogger logger, Action? onAccepted = null, Action? onRefused = null)
    {
        var l = new EndpointListener(@"\\.\pipe\" + name, handler, limits, logger, onAccepted, onRefused);
        l._acceptLoop = Task.Run(() => l.AcceptPipesAsync(name));
        return l;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _socket?.Dispose();
        if (_acceptLoop is not null)
        {
            try
            {
                await _acceptLoop.ConfigureAwait(false);
            }
            catch (Exception)
            {
            }
        }

        Task[] sessions;
        lock (_sessions)
        {
            sessions = _sessions.ToArray();
        }

        try
        {
            await Task.WhenAll(sessions).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception)
        {
        }

        if (_socket?.AddressFamily == AddressFamily.Unix)
        {
            try
            {
                File.Delete(Display);
            }
            catch (IOException)
            {
            }
        }

        _stop.Dispose();
    }

    private async Task AcceptSocketsAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _socket!.AcceptAsync(_stop.Token).ConfigureAwait(false);
                StartSession(new NetworkStream(client, ownsSocket: true));
            }
        }
        catch (Exception e) when (e is OperationCanceledException || _stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            Log.ListenerFailed(_logger, Display, e);
        }
    }

    private async Task AcceptPipesAsync(string name)
    {
        while (!_stop.IsCancellationRequested)
        {
            NamedPipeServerStream pipe;
            try
            {
                pipe = new NamedPipeServerStream(name, PipeDirection.InOut, NamedPipeServerStream.MaxAllowedServerInstances,
                    PipeTransmissionMode.Byte, PipeOptions.Asynchronous | PipeOptions.CurrentUserOnly);
                await pipe.WaitForConnectionAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e)
            {
                Log.ListenerFailed(_logger, Display, e);
                return;
            }

            StartSession(pipe);
        }
    }

    private void StartSession(Stream stream)
    {
        if (Interlocked.Increment(ref _clients) > _limits.MaxClientsPerEndpoint)
        {
            Interlocked.Decrement(ref _clients);
            _onRefused?.Invoke();
            Log.ClientRefused(_logger, Display, _limits.MaxClientsPerEndpoint);
            stream.Dispose();
            return;
        }

        _onAccepted?.Invoke();
        var session = new ClientSession(stream, _handler, _limits, Display, _logger);
        Task task = Task.Run(async () =>
        {
            try
            {
                await session.RunAsync(_stop.Token).ConfigureAwait(false);
            }
            finally
            {
                await stream.DisposeAsync().ConfigureAwait(false);
                Interlocked.Decrement(ref _clients);
            }
        });
        lock (_sessions)
        {
            _sessions.RemoveAll(t => t.IsCompleted);
            _sessions.Add(task);
        }
    }
}

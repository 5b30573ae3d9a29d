using System;
using System.IO;
using System.Net.Sockets;
using System.Threading;

namespace QemuGuest.HostileAgent;

/// <summary>
/// What QEMU's <c>-chardev socket,server=on</c> is to a guest's serial port: the port's side
/// (<see cref="GuestSide"/>, a unix socket socat connects the pty to once) stays open for the
/// agent's whole life, while host clients come and go on <see cref="HostSide"/>, one at a time.
/// socat alone ends with its first client, which left one connection per Wine agent: a
/// PowerShell session that reconnects, or two sessions one after the other, found nothing.
/// Bytes the guest writes while no client is connected are dropped, as QEMU drops them; the
/// next client resyncs anyway.
/// </summary>
public sealed class ChardevBridge : IDisposable
{
    private const int BufferSize = 64 * 1024;

    private readonly Socket _guestListener;
    private readonly Socket _hostListener;
    private readonly object _gate = new();
    private int _stopped;
    private Socket? _guest;
    private Socket? _client;

    public ChardevBridge(string guestSide, string hostSide)
    {
        GuestSide = guestSide;
        HostSide = hostSide;
        _guestListener = Listen(guestSide);
        _hostListener = Listen(hostSide);
    }

    /// <summary>The socket the pty's other end connects to (socat <c>UNIX-CONNECT:</c>).</summary>
    public string GuestSide { get; }

    /// <summary>The socket host clients connect to, as to a VM's chardev.</summary>
    public string HostSide { get; }

    /// <summary>Waits (at most <paramref name="timeout"/>) for the pty's side to connect, then serves host clients in the background.</summary>
    public void Start(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            _guest = _guestListener.AcceptAsync(deadline.Token).AsTask().GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("the pty's side did not connect to " + GuestSide + " within " + timeout.TotalSeconds + " s");
        }

        new Thread(GuestToClient) { IsBackground = true, Name = "chardev guest->host" }.Start();
        new Thread(ServeClients) { IsBackground = true, Name = "chardev host->guest" }.Start();
    }

    private static Socket Listen(string path)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Bind(new UnixDomainSocketEndPoint(path));
        s.Listen(1);
        return s;
    }

    private void GuestToClient()
    {
        var buffer = new byte[BufferSize];
        try
        {
            while (true)
            {
                int n = _guest!.Receive(buffer);
                if (n == 0)
                {
                    break;
                }

                Socket? client;
                lock (_gate)
                {
                    client = _client;
                }

                try
                {
                    client?.Send(buffer, 0, n, SocketFlags.None);
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                    // The client left mid-reply; ServeClients notices and takes the next.
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        // The guest's side is gone (socat or the agent ended): no client can be served any more.
        Stop();
    }

    private void ServeClients()
    {
        var buffer = new byte[BufferSize];
        while (Volatile.Read(ref _stopped) == 0)
        {
            Socket client;
            try
            {
                client = _hostListener.Accept();
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                return;
            }

            lock (_gate)
            {
                _client = client;
            }

            try
            {
                while (true)
                {
                    int n = client.Receive(buffer);
                    if (n == 0)
                    {
                        break;
                    }

                    _guest!.Send(buffer, 0, n, SocketFlags.None);
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }
            finally
            {
                lock (_gate)
                {
                    _client = null;
                }

                client.Dispose();
            }
        }
    }

    private void Stop()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        lock (_gate)
        {
            _client?.Dispose();
            _client = null;
        }

        _hostListener.Dispose();
    }

    public void Dispose()
    {
        Stop();
        _guest?.Dispose();
        _guestListener.Dispose();
        TryDelete(GuestSide);
        TryDelete(HostSide);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

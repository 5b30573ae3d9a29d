using System;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Framing;

namespace QemuGuest.Relay.Tests.Fixtures;

/// <summary>A raw protocol client for tests: sends bytes, reads whole messages (framed by the protocol's reader).</summary>
public sealed class TestClient : IDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly JsonMessageReader _reader = new();
    private readonly byte[] _buffer = new byte[64 * 1024];
    private ReadOnlyMemory<byte> _pending;

    private TestClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    public static async Task<TestClient> ConnectAsync(string path, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? RelayProcess.StartTimeout);
        while (true)
        {
            var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await s.ConnectAsync(new UnixDomainSocketEndPoint(path));
                return new TestClient(s);
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                s.Dispose();
                await Task.Delay(50);
            }
        }
    }

    public static async Task<TestClient> ConnectTcpAsync(System.Net.IPEndPoint endPoint)
    {
        var s = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        for (int i = 0; ; i++)
        {
            try
            {
                await s.ConnectAsync(endPoint);
                return new TestClient(s);
            }
            catch (SocketException) when (i < 100)
            {
                s.Dispose();
                s = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                await Task.Delay(50);
            }
        }
    }

    public Task SendAsync(string json) => SendAsync(Encoding.UTF8.GetBytes(json));

    public async Task SendAsync(byte[] bytes) => await _stream.WriteAsync(bytes);

    /// <summary>The next message, or null on timeout / end of stream. 0xFF bytes are counted in <see cref="Delimiters"/>.</summary>
    public async Task<JsonDocument?> ReadAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                while (!_pending.IsEmpty)
                {
                    var frame = _reader.Read(_pending, out int consumed);
                    _pending = _pending.Slice(consumed);
                    if (frame.Kind == JsonFrameKind.Message)
                    {
                        return JsonDocument.Parse(frame.Message.ToArray());
                    }

                    if (frame.Kind == JsonFrameKind.StrayByte && frame.Byte == 0xFF)
                    {
                        Delimiters++;
                    }
                }

                int n = await _stream.ReadAsync(_buffer, cts.Token);
                if (n == 0)
                {
                    return null;
                }

                _pending = new ReadOnlyMemory<byte>(_buffer, 0, n);
            }
        }
        catch (OperationCanceledException)
        {
            return null;
        }
        catch (System.IO.IOException)
        {
            return null; // reset by the peer: as good as end of stream here
        }
    }

    /// <summary>0xFF bytes seen so far.</summary>
    public int Delimiters { get; private set; }

    public async Task<JsonDocument> RequestAsync(string json, TimeSpan? timeout = null)
    {
        await SendAsync(json);
        return await ReadAsync(timeout ?? TimeSpan.FromSeconds(20)) ?? throw new TimeoutException("no reply to " + json);
    }

    public void Dispose()
    {
        _stream.Dispose();
        _reader.Dispose();
    }
}

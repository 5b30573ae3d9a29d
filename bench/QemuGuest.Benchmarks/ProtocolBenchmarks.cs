using System;
using System.Collections.Generic;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Framing;

namespace QemuGuest.Benchmarks;

/// <summary>
/// Reader throughput over (a) a stream of 1,000 typical small replies fed in 64 KiB chunks, as
/// the client's receive loop does, and (b) one 48 MiB guest-file-read reply (64 MiB of base64).
/// Bytes per operation are reported so MB/s = bytes / mean time.
/// </summary>
[MemoryDiagnoser]
public class ReaderBenchmarks
{
    private const int Chunk = 64 * 1024;
    private byte[] _typical = Array.Empty<byte>();
    private byte[] _bigRead = Array.Empty<byte>();
    private JsonMessageReader _reader = null!;

    [GlobalSetup]
    public void Setup()
    {
        var replies = new[]
        {
            "{\"return\": {}, \"id\": 17}\n",
            "{\"return\": {\"pid\": 8290}, \"id\": 18}\n",
            "{\"return\": {\"exitcode\": 0, \"out-data\": \"aGkK\", \"out-truncated\": false, \"exited\": true}, \"id\": 19}\n",
            "{\"return\": {\"count\": 4096, \"buf-b64\": \"" + Convert.ToBase64String(new byte[4096]) + "\", \"eof\": false}, \"id\": 20}\n",
            "{\"id\": 21, \"error\": {\"class\": \"GenericError\", \"desc\": \"handle '99' has not been found\"}}\n",
            "{\"return\": [{\"name\": \"lo\", \"ip-addresses\": [{\"ip-address-type\": \"ipv4\", \"ip-address\": \"127.0.0.1\", \"prefix\": 8}], \"statistics\": {\"tx-packets\": 1, \"rx-bytes\": 2}}], \"id\": 22}\n",
        };
        var all = new List<byte>();
        for (int i = 0; i < 1000; i++)
        {
            all.AddRange(Encoding.ASCII.GetBytes(replies[i % replies.Length]));
        }

        _typical = all.ToArray();
        var payload = new byte[48 * 1024 * 1024];
        new Random(1).NextBytes(payload);
        _bigRead = Encoding.ASCII.GetBytes("{\"return\": {\"count\": 50331648, \"buf-b64\": \"" + Convert.ToBase64String(payload) + "\", \"eof\": false}, \"id\": 5}\n");
        _reader = new JsonMessageReader();
        Console.WriteLine($"// typical stream: {_typical.Length} bytes, 1000 messages; 48 MiB read reply: {_bigRead.Length} bytes");
    }

    [GlobalCleanup]
    public void Cleanup() => _reader.Dispose();

    [Benchmark(Description = "read 1000 typical replies (64 KiB chunks)", OperationsPerInvoke = 1000)]
    public int TypicalReplies() => Feed(_typical);

    [Benchmark(Description = "read one 48 MiB file-read reply (64 KiB chunks)")]
    public int BigReadReply() => Feed(_bigRead);

    [Benchmark(Description = "read + JsonDocument.Parse + Clone(return), per typical reply", OperationsPerInvoke = 1000)]
    public int TypicalRepliesParsed()
    {
        int n = 0;
        ReadOnlyMemory<byte> data = _typical;
        for (int offset = 0; offset < data.Length; offset += Chunk)
        {
            ReadOnlyMemory<byte> chunk = data.Slice(offset, Math.Min(Chunk, data.Length - offset));
            while (!chunk.IsEmpty)
            {
                JsonFrame frame = _reader.Read(chunk, out int used);
                chunk = chunk.Slice(used);
                if (frame.Kind == JsonFrameKind.Message)
                {
                    using JsonDocument doc = JsonDocument.Parse(frame.Message);
                    if (doc.RootElement.TryGetProperty("return", out JsonElement value))
                    {
                        n += value.Clone().ValueKind == JsonValueKind.Object ? 1 : 0;
                    }
                }
            }
        }

        return n;
    }

    private int Feed(byte[] data)
    {
        int messages = 0;
        ReadOnlyMemory<byte> all = data;
        for (int offset = 0; offset < all.Length; offset += Chunk)
        {
            ReadOnlyMemory<byte> chunk = all.Slice(offset, Math.Min(Chunk, all.Length - offset));
            while (!chunk.IsEmpty)
            {
                JsonFrame frame = _reader.Read(chunk, out int used);
                chunk = chunk.Slice(used);
                messages += frame.Kind == JsonFrameKind.Message ? 1 : 0;
            }
        }

        return messages;
    }
}

/// <summary>Writer throughput: typical requests, and a 48 MiB guest-file-write request (base64 from bytes).</summary>
[MemoryDiagnoser]
public class WriterBenchmarks
{
    private JsonMessageWriter _writer = null!;
    private byte[] _payload = Array.Empty<byte>();
    private PathArgs _args = null!;

    [GlobalSetup]
    public void Setup()
    {
        _writer = new JsonMessageWriter();
        _payload = new byte[48 * 1024 * 1024];
        new Random(2).NextBytes(_payload);
        _args = new PathArgs("/var/log/journal/0123456789abcdef/system.journal", "r");
    }

    [GlobalCleanup]
    public void Cleanup() => _writer.Dispose();

    [Benchmark(Description = "write guest-file-open request")]
    public int TypicalRequest() => _writer.WriteRequest("guest-file-open", _args, 1234).Length;

    [Benchmark(Description = "write guest-file-write request, 48 MiB payload")]
    public int BigWriteRequest() => _writer.WriteRequest("guest-file-write", new WriteArgs(1000, _payload), 1235).Length;

    [Benchmark(Description = "write request with non-ASCII path (escaped)")]
    public int NonAsciiRequest() => _writer.WriteRequest("guest-file-open", new PathArgs("C:\\Users\\Jörg\\Документы\\файл😀.txt", "rb"), 1236).Length;

    private sealed class PathArgs : IQgaArguments
    {
        private readonly string _path;
        private readonly string _mode;

        public PathArgs(string path, string mode)
        {
            _path = path;
            _mode = mode;
        }

        public void WriteMembers(Utf8JsonWriter writer)
        {
            writer.WriteString("path", _path);
            writer.WriteString("mode", _mode);
        }
    }

    private sealed class WriteArgs : IQgaArguments
    {
        private readonly long _handle;
        private readonly byte[] _data;

        public WriteArgs(long handle, byte[] data)
        {
            _handle = handle;
            _data = data;
        }

        public void WriteMembers(Utf8JsonWriter writer)
        {
            writer.WriteNumber("handle", _handle);
            writer.WriteBase64String("buf-b64", _data);
        }
    }
}

using System;
using System.IO;
using System.Runtime.Versioning;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using QemuGuest.Agent.Core;
using QemuGuest.Agent.Handlers.Common;
using QemuGuest.Agent.Platform.Linux;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Framing;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Benchmarks;

/// <summary>
/// The client's base64 marshalling of one 60 KiB block (Copy-VMGuestFile's default), through
/// the real <see cref="GuestFileIO"/>: a write encodes the block into the request with the
/// real <see cref="JsonMessageWriter"/>; a read parses the agent's reply the way the client
/// does (JsonDocument + Clone of "return") and decodes buf-b64 into the caller's buffer. Only
/// the socket is missing: the channel below hands over bytes in memory.
/// </summary>
[MemoryDiagnoser]
public class MarshallingBenchmarks
{
    private const int Block = 60 * 1024;
    private readonly byte[] _block = new byte[Block];
    private readonly byte[] _destination = new byte[Block];
    private InMemoryChannel _channel = null!;

    [GlobalSetup]
    public void Setup()
    {
        new Random(3).NextBytes(_block);
        byte[] reply = Encoding.ASCII.GetBytes("{\"return\": {\"count\": " + Block + ", \"buf-b64\": \"" + Convert.ToBase64String(_block) + "\", \"eof\": false}}");
        _channel = new InMemoryChannel(reply);
    }

    [GlobalCleanup]
    public void Cleanup() => _channel.Dispose();

    [Benchmark(Description = "encode a 60 KiB guest-file-write request (base64 into the pooled buffer)")]
    public Task<long> Write() => GuestFileIO.WriteAsync(_channel, 1000, _block, null, CancellationToken.None);

    [Benchmark(Description = "parse a 60 KiB guest-file-read reply and decode buf-b64")]
    public async Task<int> Read() => (await GuestFileIO.ReadAsync(_channel, 1000, _destination, null, CancellationToken.None)).Count;

    private sealed class InMemoryChannel : IGuestAgentChannel, IDisposable
    {
        private static readonly byte[] WriteReply = "{\"return\": {\"count\": 61440, \"eof\": false}}"u8.ToArray();
        private readonly JsonMessageWriter _writer = new();
        private readonly byte[] _readReply;

        public InMemoryChannel(byte[] readReply) => _readReply = readReply;

        public Task<JsonElement> ExecuteAsync(string command, IQgaArguments? arguments, QgaCallOptions? options, CancellationToken cancellationToken)
        {
            // The request is serialised exactly as it would go to the socket; the reply is
            // parsed from bytes each time, as the client's receive loop does.
            ReadOnlyMemory<byte> request = _writer.WriteRequest(command, arguments, 1);
            byte[] reply = command == "guest-file-read" ? _readReply : WriteReply;
            using JsonDocument doc = JsonDocument.Parse(reply);
            JsonElement value = doc.RootElement.GetProperty("return").Clone();
            return Task.FromResult(request.Length > 0 ? value : default);
        }

        public Task ExecuteWithoutResponseAsync(string command, IQgaArguments? arguments, QgaCallOptions? options, CancellationToken cancellationToken) =>
            throw new NotSupportedException(command);

        public void Dispose() => _writer.Dispose();
    }
}

/// <summary>
/// The agent's request path without the socket: the real <see cref="RequestProcessor"/> (envelope
/// checks, policy, generated dispatcher, Linux handlers, reply writer) on framed requests.
/// guest-file-write goes to a handle on /dev/null, so the figure is dispatch plus base64
/// decoding, not the disk.
/// </summary>
[MemoryDiagnoser]
[SupportedOSPlatform("linux")]
public class DispatcherBenchmarks
{
    private string _root = string.Empty;
    private RequestProcessor _processor = null!;
    private JsonMessageWriter _writer = null!;
    private byte[] _ping = Array.Empty<byte>();
    private byte[] _info = Array.Empty<byte>();
    private byte[] _write = Array.Empty<byte>();

    [GlobalSetup]
    public void Setup()
    {
        _root = Directory.CreateTempSubdirectory("qg-dispatch-bench-").FullName;
        var state = new PersistentState(Path.Combine(_root, "qga.state"));
        state.Load(false);
        var gate = new CommandGate(Array.Empty<string>(), Array.Empty<string>(), Path.Combine(_root, "qga.state.isfrozen"));
        var context = new AgentContext(state, gate, new FileHandleTable(state, new LinuxFileOpener()), new ExecManager(new LinuxProcessLauncher()), AgentContext.DetectPlatform(), null);
        var handler = new LinuxCommandHandler(context, LinuxSystem.Real, NullLogger.Instance);
        _processor = new RequestProcessor(new GeneratedDispatcher(handler, AgentContext.DetectPlatform()), gate, NullLogger.Instance);
        _writer = new JsonMessageWriter();
        _ping = "{\"execute\": \"guest-ping\", \"id\": 1}"u8.ToArray();
        _info = "{\"execute\": \"guest-info\", \"id\": 2}"u8.ToArray();
        string open = Encoding.UTF8.GetString(Process("{\"execute\": \"guest-file-open\", \"arguments\": {\"path\": \"/dev/null\", \"mode\": \"w\"}}"u8.ToArray()).Span);
        long handle = JsonDocument.Parse(open).RootElement.GetProperty("return").GetInt64();
        var block = new byte[60 * 1024];
        new Random(4).NextBytes(block);
        _write = Encoding.ASCII.GetBytes("{\"execute\": \"guest-file-write\", \"arguments\": {\"handle\": " + handle + ", \"buf-b64\": \"" + Convert.ToBase64String(block) + "\"}, \"id\": 3}");
        string check = Encoding.UTF8.GetString(Process(_write).Span);
        if (!check.Contains("\"count\":61440", StringComparison.Ordinal) && !check.Contains("\"count\": 61440", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("guest-file-write to /dev/null did not report 61440 bytes: " + check);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _writer.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    [Benchmark(Description = "guest-ping request -> reply")]
    public int Ping() => Process(_ping).Length;

    [Benchmark(Description = "guest-info request -> reply (command list)")]
    public int Info() => Process(_info).Length;

    [Benchmark(Description = "guest-file-write 60 KiB to /dev/null -> reply")]
    public int Write() => Process(_write).Length;

    private ReadOnlyMemory<byte> Process(byte[] message)
    {
        ValueTask<ReadOnlyMemory<byte>> task = _processor.ProcessAsync(message, _writer, CancellationToken.None);
        return task.IsCompletedSuccessfully ? task.Result : task.AsTask().GetAwaiter().GetResult();
    }
}

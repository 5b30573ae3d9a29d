using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging.Abstractions;
using QemuGuest.Agent;
using QemuGuest.Agent.Core;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Framing;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Fuzz;

/// <summary>
/// The agent's request path as the service loop runs it: framing, the envelope checks of
/// <see cref="RequestProcessor"/>, and the generated dispatcher's unmarshalling of every
/// command's arguments (all platforms' commands). The handler behind the dispatcher runs
/// nothing: whatever arguments reach it, it answers "not supported", so no input can touch
/// the host. Crashes: an exception out of the processor, one other than
/// <see cref="QapiUnmarshalException"/> / <see cref="AgentCommandException"/> out of the
/// dispatcher (the processor would hide it as a generic reply), or a reply that is not one
/// JSON object with exactly one of return/error.
/// </summary>
public sealed class AgentDispatchTarget : IFuzzTarget
{
    private readonly CheckingDispatcher _dispatcher;
    private readonly RequestProcessor _processor;

    public AgentDispatchTarget()
    {
        var platform = new QgaPlatform(QgaPlatform.Linux.Symbols.Concat(QgaPlatform.Windows.Symbols).Distinct());
        _dispatcher = new CheckingDispatcher(new GeneratedDispatcher(RefusingHandler.Create(), platform));
        _processor = new RequestProcessor(_dispatcher, new CommandGate(Array.Empty<string>(), Array.Empty<string>(), null), NullLogger.Instance);
    }

    public void Run(ReadOnlySpan<byte> input)
    {
        using var reader = new JsonMessageReader(64 * 1024, JsonMessageReader.DefaultMaxDepth, 16 * 1024);
        using var writer = new JsonMessageWriter();
        ReadOnlyMemory<byte> rest = input.ToArray();
        while (!rest.IsEmpty)
        {
            JsonFrame frame = reader.Read(rest, out int used);
            rest = rest.Slice(used);
            ReadOnlyMemory<byte> reply;
            switch (frame.Kind)
            {
                case JsonFrameKind.None:
                    continue;
                case JsonFrameKind.Message:
                    ValueTask<ReadOnlyMemory<byte>> pending = _processor.ProcessAsync(frame.Message, writer, CancellationToken.None);
                    if (!pending.IsCompleted)
                    {
                        // Nothing in this path waits on I/O: a request that does not finish at once is stuck.
                        throw new InvariantViolation("the request did not complete synchronously");
                    }

                    reply = pending.Result;
                    _dispatcher.ThrowIfUnexpected();
                    break;
                default:
                    reply = RequestProcessor.FramingError(frame, writer);
                    break;
            }

            CheckReply(reply);
        }
    }

    private static void CheckReply(ReadOnlyMemory<byte> reply)
    {
        if (reply.IsEmpty)
        {
            // Only a successful guest-shutdown / guest-suspend-* sends nothing, and the handler never succeeds.
            throw new InvariantViolation("no reply");
        }

        ReadOnlySpan<byte> span = reply.Span;
        if (span[0] == JsonMessageWriter.Delimiter)
        {
            span = span.Slice(1);
        }

        if (span[^1] != (byte)'\n' || span.Slice(0, span.Length - 1).IndexOf((byte)'\n') >= 0)
        {
            throw new InvariantViolation("a reply is one line ending in \\n");
        }

        foreach (byte b in span)
        {
            if (b >= 0x80)
            {
                throw new InvariantViolation($"non-ASCII byte 0x{b:X2} in a reply");
            }
        }

        using var doc = JsonDocument.Parse(reply.Slice(reply.Span[0] == JsonMessageWriter.Delimiter ? 1 : 0));
        JsonElement root = doc.RootElement;
        bool hasReturn = root.TryGetProperty("return", out _);
        bool hasError = root.TryGetProperty("error", out JsonElement error);
        if (hasReturn == hasError)
        {
            throw new InvariantViolation("a reply has exactly one of return and error: " + root.GetRawText());
        }

        if (hasError && (error.GetProperty("class").ValueKind != JsonValueKind.String || error.GetProperty("desc").ValueKind != JsonValueKind.String))
        {
            throw new InvariantViolation("an error has a string class and desc: " + root.GetRawText());
        }
    }

    /// <summary>Passes calls through and keeps any exception that is not one of the named ones.</summary>
    private sealed class CheckingDispatcher : IAgentDispatcher
    {
        private readonly IAgentDispatcher _inner;
        private Exception? _unexpected;

        public CheckingDispatcher(IAgentDispatcher inner) => _inner = inner;

        public IReadOnlyList<AgentCommandInfo> Commands => _inner.Commands;

        public bool TryGetCommand(string name, out AgentCommandInfo info) => _inner.TryGetCommand(name, out info);

        public async ValueTask DispatchAsync(string name, JsonElement arguments, Utf8JsonWriter writer, CancellationToken cancellationToken)
        {
            try
            {
                await _inner.DispatchAsync(name, arguments, writer, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not (QapiUnmarshalException or AgentCommandException))
            {
                _unexpected = e;
                throw;
            }
        }

        public void ThrowIfUnexpected()
        {
            Exception? e = _unexpected;
            _unexpected = null;
            if (e is not null)
            {
                throw new InvariantViolation("the dispatcher threw " + e.GetType().FullName + ": " + e.Message + Environment.NewLine + e.StackTrace);
            }
        }
    }
}

/// <summary>
/// An <see cref="IQgaCommandHandler"/> built at run time (so it never lags the schema): every
/// command fails with "not supported" after its arguments were unmarshalled.
/// </summary>
public class RefusingHandler : DispatchProxy
{
    private static readonly ConcurrentDictionary<Type, object> Failures = new();

    public static IQgaCommandHandler Create() => DispatchProxy.Create<IQgaCommandHandler, RefusingHandler>();

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        Type type = targetMethod!.ReturnType;
        return Failures.GetOrAdd(type, static t =>
        {
            var error = AgentCommandException.Unsupported();
            if (t == typeof(ValueTask))
            {
                return ValueTask.FromException(error);
            }

            MethodInfo fromException = typeof(ValueTask).GetMethods(BindingFlags.Public | BindingFlags.Static)
                .Single(m => m.Name == nameof(ValueTask.FromException) && m.IsGenericMethodDefinition)
                .MakeGenericMethod(t.GetGenericArguments()[0]);
            return fromException.Invoke(null, new object[] { error })!;
        });
    }
}

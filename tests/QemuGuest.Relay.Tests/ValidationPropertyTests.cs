using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading;
using System.Threading.Tasks;
using CsCheck;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Framing;
using QemuGuest.Protocol.Qga;
using QemuGuest.Protocol.Validation;
using QemuGuest.Relay.Guest;
using QemuGuest.Relay.Wire;
using QemuGuest.Tests.Shared;

namespace QemuGuest.Relay.Tests;

/// <summary>
/// The relay's checks of untrusted JSON as properties: whatever a client or guest sends, the
/// framer → strict parse → schema check path answers with a value, a validation error or a
/// problem text, never an exception; and what it passes on as a return value is exactly of the
/// declared type. (fuzz/ runs the same path coverage-guided; this is the bounded version.)
/// </summary>
public class ValidationPropertyTests
{
    private static readonly RelaySchema Schema = new(QgaSchemaDescriptors.Commands);

    private static readonly Gen<byte[]> JsonishBytes = Gen.Frequency(
        (2, Gen.Byte),
        (6, QapiJsonGen.Pick("{}[]:,\"'\\ 0-1.5etrufalsn\xff".Select(c => (byte)c).ToArray())))
        .Array[0, 200];

    /// <summary>Runs one guest message through the reply path; returns the outcome's kind and text.</summary>
    private static string CheckReply(QgaCommandDescriptor command, ReadOnlySpan<byte> message)
    {
        OwnedJson? reply = BoundedJson.TryParse(message, 64, out string? error);
        if (reply is null)
        {
            Assert.False(string.IsNullOrEmpty(error));
            return "unparsed";
        }

        using GuestOutcome outcome = ReplyChecker.Check(reply, command, 100, out string? problem);
        switch (outcome.Kind)
        {
            case OutcomeKind.Return:
                Assert.Null(problem);
                // Passed on only when it is of the declared type, as the generated validator sees it.
                Assert.Null(SchemaValidator.ValidateReturn(command, outcome.Value));
                return "return";
            case OutcomeKind.Error when problem is not null:
                Assert.StartsWith("qemuguest-relay: ", outcome.Description);
                return "problem";
            case OutcomeKind.Error:
                Assert.False(string.IsNullOrEmpty(outcome.ErrorClass));
                Assert.True(outcome.Description!.Length <= 100 + 3, outcome.Description);
                return "agent-error";
            default:
                return outcome.Kind.ToString();
        }
    }

    [Fact]
    public void Property_arbitrary_bytes_through_framer_parse_and_both_checks_never_throw()
    {
        Gen.Select(JsonishBytes, QapiJsonGen.Pick(Schema.Commands)).Sample((data, command) =>
        {
            using var reader = new JsonMessageReader(4096, 16, 512);
            ReadOnlyMemory<byte> rest = data;
            while (!rest.IsEmpty)
            {
                JsonFrame frame = reader.Read(rest, out int used);
                rest = rest.Slice(used);
                if (frame.Kind != JsonFrameKind.Message)
                {
                    continue;
                }

                using (var request = BoundedJson.TryParse(frame.Message.Span, 16, out _))
                {
                    if (request is not null)
                    {
                        var invalid = Schema.Validator.ValidateRequest(request.Root);
                        Assert.True(invalid is null || invalid.ErrorClass is "GenericError" or "CommandNotFound");
                    }
                }

                CheckReply(command, frame.Message.Span);
            }
        }, iter: 3000);
    }

    [Fact]
    public void Property_the_relay_passes_a_return_value_exactly_when_the_generated_client_can_read_it()
    {
        // Two independent implementations of one contract: the relay's descriptor-driven check
        // and the generated client's typed readers. Values come from each command's return
        // descriptor, some broken on purpose; both verdicts must be seen.
        var commands = Schema.Commands.Where(c => c.Returns is not null && c.SuccessResponse && ClientReaders.Value.ContainsKey(c.Name)).ToArray();
        Assert.True(commands.Length > 20, $"{commands.Length} commands with a client reader");
        int passed = 0;
        int refused = 0;
        Gen.Select(QapiJsonGen.Pick(commands), Gen.Long[0, 1L << 53]).SelectMany((c, id) =>
            QapiJsonGen.Valid(c.Returns!, 0).Select(value => (c, id, value)))
            .Sample(t =>
            {
                var (command, id, value) = t;
                var reply = new JsonObject { ["return"] = value?.DeepClone(), ["id"] = id };
                byte[] bytes = Encoding.UTF8.GetBytes(reply.ToJsonString());
                using var doc = JsonDocument.Parse(bytes);
                // The relay refuses more than the client's readers: a 'path-component' member must
                // be one name (the cmdlets report such names per item, so their readers accept them).
                var returned = doc.RootElement.GetProperty("return");
                string expected = ClientReads(command.Name, returned) && NamesAreComponents(command.Returns!, returned) ? "return" : "problem";
                Assert.Equal(expected, CheckReply(command, bytes));
                if (expected == "return")
                {
                    passed++;
                }
                else
                {
                    refused++;
                }
            }, iter: 2000, threads: 1, print: t => t.c.Name + " " + t.value?.ToJsonString());
        Assert.True(passed > 100 && refused > 100, $"passed {passed}, refused {refused}");
    }

    /// <summary>True when every 'path-component' member in a value the client can read is one name.</summary>
    private static bool NamesAreComponents(QapiTypeDescriptor type, JsonElement value)
    {
        switch (type)
        {
            case QapiArrayDescriptor a when value.ValueKind == JsonValueKind.Array:
                return value.EnumerateArray().All(item => NamesAreComponents(a.Element, item));
            case QapiObjectDescriptor o when value.ValueKind == JsonValueKind.Object:
                var members = o.Members.AsEnumerable();
                if (o.Discriminator is not null && value.TryGetProperty(o.Discriminator, out var d) && d.ValueKind == JsonValueKind.String
                    && o.Variants!.TryGetValue(d.GetString()!, out var variant))
                {
                    members = members.Concat(variant);
                }
                return members.All(m => !value.TryGetProperty(m.Name, out var v)
                    || (m.PathComponent
                        ? (v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().All(i => PathComponent.Problem(i.GetString()) is null) : PathComponent.Problem(v.GetString()) is null)
                        : NamesAreComponents(m.Type, v)));
            default:
                return true;
        }
    }

    /// <summary>Hands one prepared reply to whichever generated client method asks.</summary>
    private sealed class ReplyChannel : IGuestAgentChannel
    {
        public string? Command { get; private set; }

        public JsonElement Reply { get; set; }

        public Task<JsonElement> ExecuteAsync(string command, IQgaArguments? arguments, QgaCallOptions? options, CancellationToken cancellationToken)
        {
            Command = command;
            return Task.FromResult(Reply);
        }

        public Task ExecuteWithoutResponseAsync(string command, IQgaArguments? arguments, QgaCallOptions? options, CancellationToken cancellationToken)
        {
            Command = command;
            return Task.CompletedTask;
        }
    }

    private static readonly ReplyChannel Channel = new();

    private static readonly GuestAgentCommands Client = new(Channel);

    /// <summary>Command name → the generated client method that runs it, found by calling each once.</summary>
    private static readonly Lazy<Dictionary<string, MethodInfo>> ClientReaders = new(() =>
    {
        var map = new Dictionary<string, MethodInfo>(StringComparer.Ordinal);
        using var nothing = JsonDocument.Parse("null");
        Channel.Reply = nothing.RootElement.Clone();
        foreach (var m in typeof(GuestAgentCommands).GetMethods(BindingFlags.Public | BindingFlags.Instance)
            .Where(m => m.ReturnType.IsGenericType && m.ReturnType.GetGenericTypeDefinition() == typeof(Task<>)))
        {
            try
            {
                ((Task)Invoke(m)).GetAwaiter().GetResult();
            }
            catch (QgaProtocolException)
            {
            }

            map[Channel.Command!] = m;
        }

        return map;
    });

    private static object Invoke(MethodInfo m) => m.Invoke(Client, m.GetParameters().Select(p => Argument(p.ParameterType)).ToArray())!;

    // Any value the client accepts will do: the channel ignores the arguments.
    private static object? Argument(Type t) =>
        t == typeof(string) ? "x"
        : t.IsArray ? Array.CreateInstance(t.GetElementType()!, 0)
        : t.IsGenericType && t.GetGenericArguments().Length == 1 && t.IsAssignableFrom(t.GetGenericArguments()[0].MakeArrayType()) ? Array.CreateInstance(t.GetGenericArguments()[0], 0)
        : t.IsValueType ? Activator.CreateInstance(t)
        : t.IsAbstract ? t.Assembly.GetTypes().Where(x => t.IsAssignableFrom(x) && !x.IsAbstract).Select(Argument).FirstOrDefault()
        : t.GetConstructors().OrderBy(c => c.GetParameters().Length).FirstOrDefault() is { } ctor
            ? ctor.Invoke(ctor.GetParameters().Select(p => Argument(p.ParameterType)).ToArray())
            : null;

    private static bool ClientReads(string command, JsonElement value)
    {
        Channel.Reply = value.Clone();
        try
        {
            ((Task)Invoke(ClientReaders.Value[command])).GetAwaiter().GetResult();
            return true;
        }
        catch (QgaProtocolException)
        {
            return false;
        }
    }
}
